"""Admin fixtures: one province's staff (Shanghai, the viewer) and another's objects (Sichuan)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from apps.core.roles import Role
from tests.pooling.conftest import ensure_ledger

VIEWER, OTHER = "310000", "510000"  # Shanghai looks, Sichuan owns
PROVINCE_ROLES = (Role.PROVINCE_STAFF, Role.FINANCE_MAKER, Role.FINANCE_CHECKER)
JAN_2025 = dt.date(2025, 1, 1)
POLICY = {
    "scheme": "employee",
    "setting": "inpatient",
    "effective_from": JAN_2025,
    "deductible_fen": 10_000,
    "ratio_category_a": Decimal("0.9"),
    "ratio_category_b": Decimal("0.8"),
    "annual_cap_fen": 50_000_000,
}


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def provinces(db: Any) -> None:
    ensure_ledger()  # both provinces, Sichuan's regions and every fund account


@pytest.fixture
def superuser(db: Any) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root-admin", "root@example.cn", "correct horse battery staple")
