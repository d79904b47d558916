"""Benefits fixtures: two provinces' staff, two published releases, approved home policies."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from apps.benefits import services
from apps.benefits.models import BenefitPolicy
from apps.benefits.selectors import province_by_code
from apps.catalog.demo import generate_items
from apps.core.roles import Role
from tests.factories import published_release, staff

SICHUAN, SHANGHAI = "510000", "310000"
JAN_2025, JAN_2026 = dt.date(2025, 1, 1), dt.date(2026, 1, 1)

_base = list(generate_items(6, seed=7))
DRUG_A = {**_base[0], "category": "01", "self_pay_ratio": None, "restriction_hospital_level": ""}
DRUG_B = {**_base[1], "category": "02", "self_pay_ratio": "0.1000", "restriction_hospital_level": ""}
DRUG_B_DEFAULT = {**_base[2], "category": "02", "self_pay_ratio": None, "restriction_hospital_level": ""}
DRUG_C = {**_base[3], "category": "03", "self_pay_ratio": None, "restriction_hospital_level": ""}
DRUG_3A_ONLY = {**_base[4], "category": "01", "self_pay_ratio": None, "restriction_hospital_level": "3A"}
NEW_IN_2026 = {**next(generate_items(1, seed=8, start=5000)), "category": "01", "self_pay_ratio": None, "restriction_hospital_level": ""}
LOCAL_CODE = "001102000010000-31"

HOME_POLICY: dict[str, Any] = {
    "scheme": "employee",
    "setting": "inpatient",
    "effective_from": JAN_2025,
    "deductible_fen": 10_000,
    "ratio_category_a": Decimal("0.9"),
    "ratio_category_b": Decimal("0.8"),
    "default_self_pay_ratio": Decimal("0.15"),
    "annual_cap_fen": 50_000_000,
    "cross_province_ratio_registered": Decimal("1"),
    "cross_province_ratio_unregistered": Decimal("0.8"),
}


def approved_policy(province_code: str, maker: Any, checker: Any, **overrides: Any) -> BenefitPolicy:
    policy = services.policy_create_draft(user=maker, province=province_by_code(province_code), **{**HOME_POLICY, **overrides})
    services.policy_submit(policy=policy, user=maker)
    return services.policy_approve(policy=policy, user=checker)


@pytest.fixture
def sc_maker(db: Any) -> Any:
    return staff(Role.PROVINCE_STAFF, SICHUAN, username="sc-maker")


@pytest.fixture
def sc_checker(db: Any) -> Any:
    return staff(Role.PROVINCE_STAFF, SICHUAN, username="sc-checker")


@pytest.fixture
def sh_staff(db: Any) -> Any:
    return staff(Role.PROVINCE_STAFF, SHANGHAI, username="sh-staff")


@pytest.fixture
def sh_checker(db: Any) -> Any:
    return staff(Role.PROVINCE_STAFF, SHANGHAI, username="sh-checker")


@pytest.fixture
def releases(catalog_admin: Any, reviewer: Any) -> tuple[Any, Any]:
    """2025.01 (in force from 2025-01-01) and 2026.01 (adds NEW_IN_2026 from 2026-01-01)."""
    items = [DRUG_A, DRUG_B, DRUG_B_DEFAULT, DRUG_C, DRUG_3A_ONLY]
    first = published_release(label="2025.01", effective_from=JAN_2025, admin=catalog_admin, reviewer=reviewer, items=items)
    second = published_release(
        label="2026.01", effective_from=JAN_2026, admin=catalog_admin, reviewer=reviewer, items=[*items, NEW_IN_2026]
    )
    return first, second


@pytest.fixture
def home_policy(sc_maker: Any, sc_checker: Any) -> BenefitPolicy:
    return approved_policy(SICHUAN, sc_maker, sc_checker)


@pytest.fixture
def shanghai_local_item(sh_staff: Any) -> Any:
    return services.local_item_save(
        user=sh_staff,
        province=province_by_code(SHANGHAI),
        code=LOCAL_CODE,
        name="上海地方增补诊疗项目",
        category="02",
        self_pay_ratio=Decimal("0.2"),
        effective_from=JAN_2025,
        sunset_date=dt.date(2025, 7, 1),
        national_code="",
    )


# Fixtures of the pre-check's rules (issue 20) live in rules.py, next to their constants.
from .rules import chronic_policy, critical_term, drg_table, lapsed_local_item, rules_release  # noqa: E402, F401
