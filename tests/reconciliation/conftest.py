from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest

from apps.benefits.models import Province
from apps.core.roles import Role
from apps.pooling import services as pooling
from apps.reconciliation import services
from tests.factories import published_release, staff

SH, SC, GD = "310000", "510000", "440000"
PERIOD = "2026-03"
HEADER = "settlement_id,home_province,destination_province,hospital_code,patient_id_hash,date_of_service,release_label,drg_group,total_fen,fund_fen,patient_fen"


def row(
    sid: str, *, home: str = SC, dest: str = SH, day: str = "2026-03-10", label: str = "2026.03", total: int = 10000, fund: int = 7000
) -> str:
    return f"{sid},{home},{dest},H{dest}001,ph{sid},{day},{label},DRG1,{total},{fund},{total - fund}"


def csv_bytes(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


@pytest.fixture(params=["hash", "streaming"])
def recon(request: Any, db: Any, catalog_admin: Any, reviewer: Any, settings: Any) -> Any:
    """Three provinces with accounts, releases 2026.01 (Jan 1) and 2026.03 (Mar 1), a finance maker.

    Each test runs with both plans of the matching's first pass: the hash aggregation of small
    months and the per-side streaming merge of large ones."""
    settings.RECONCILIATION_STREAMING_ABOVE_RECORDS = 0 if request.param == "streaming" else 10**12
    return _recon_world(catalog_admin, reviewer)


@pytest.fixture
def recon_default_plan(db: Any, catalog_admin: Any, reviewer: Any) -> Any:
    """``recon`` with the plan the month's size picks (the hash plan for these small months),
    for tests whose subject is elsewhere: a worker in another process never sees this
    process's settings, so running them under both plans would only run them twice."""
    return _recon_world(catalog_admin, reviewer)


def _recon_world(catalog_admin: Any, reviewer: Any) -> Any:
    for code, name in ((SH, "上海市"), (SC, "四川省"), (GD, "广东省")):
        Province.objects.get_or_create(code=code, defaults={"name": name})
    pooling.accounts_ensure()
    published_release(label="2026.01", effective_from=dt.date(2026, 1, 1), admin=catalog_admin, reviewer=reviewer, count=3)
    published_release(label="2026.03", effective_from=dt.date(2026, 3, 1), admin=catalog_admin, reviewer=reviewer, count=3)

    class Recon:
        # National (no province): she imports both sides of every province pair and starts runs.
        maker = staff(Role.FINANCE_MAKER, username="national-finance-maker")
        checker = staff(Role.FINANCE_CHECKER, SC, username="sc-finance-checker")

        def load(self, side: str, *rows: str, period: str = PERIOD) -> dict[str, Any]:
            return services.settlement_import(
                period=period, side=side, file=io.BytesIO(csv_bytes(*rows)), user=self.maker, filename="t.csv"
            )

        def both(self, *rows: str) -> None:
            self.load("home", *rows)
            self.load("destination", *rows)

        def run(self) -> Any:
            return services.reconciliation_run(period=PERIOD, user=self.maker)

    return Recon()
