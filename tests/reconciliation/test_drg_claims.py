"""DRG-settled claims against the DRG tables (issue 20): a destination that paid a DRG claim
other than weight × base rate less the patient's share is found, set-based, per period."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest

from apps.benefits import services as benefits
from apps.reconciliation import services
from apps.reconciliation.drg import drg_payment_mismatches

from .conftest import PERIOD, SC, SH

pytestmark = pytest.mark.django_db
HEADER = "settlement_id,home_province,destination_province,hospital_code,patient_id_hash,date_of_service,release_label,drg_group,drg_flag,total_fen,fund_fen,patient_fen"


@pytest.fixture
def drg_world(recon_default_plan: Any, catalog_admin: Any, reviewer: Any) -> Any:
    """Area 310100 pays out-of-town claims by DRG from 2026-03-10: GB21 at 1.5 × 1,000,000 fen."""
    table = benefits.drg_version_create(user=catalog_admin, label="DRG-2026", effective_from=dt.date(2026, 1, 1))
    benefits.drg_groups_import(version=table, user=catalog_admin, stream=io.BytesIO(b"code,name,weight\nGB21,x,1.5\n"))
    benefits.drg_area_rates_import(
        version=table, user=catalog_admin, stream=io.BytesIO(b"area_code,base_rate_fen,out_of_town_from\n310100,1000000,2026-03-10\n")
    )
    benefits.drg_version_submit(version=table, user=catalog_admin)
    benefits.drg_version_approve(version=table, user=reviewer)
    benefits.drg_version_publish(version=table, user=catalog_admin)
    return recon_default_plan


def _load(world: Any, *rows: str) -> None:
    body = ("\n".join([HEADER, *rows]) + "\n").encode()
    services.settlement_import(period=PERIOD, side="destination", file=io.BytesIO(body), user=world.maker, filename="drg.csv")


def _row(
    sid: str, *, hospital: str = "H31010100001", day: str = "2026-03-12", group: str = "GB21", flag: int = 1, fund: int, patient: int
) -> str:
    return f"{sid},{SC},{SH},{hospital},ph{sid},{day},2026.03,{group},{flag},{fund + patient},{fund},{patient}"


def test_a_drg_claim_paid_as_the_table_says_is_not_flagged(drg_world):
    _load(drg_world, _row("D1", fund=1_400_000, patient=100_000))
    assert drg_payment_mismatches(period=PERIOD) == []


def test_a_drg_claim_paid_otherwise_is_flagged_with_what_the_table_says(drg_world):
    _load(drg_world, _row("D2", fund=1_450_000, patient=100_000))
    (found,) = drg_payment_mismatches(period=PERIOD)
    assert (found.settlement_id, found.hospital_payment_fen, found.expected_fund_fen, found.delta_fen) == (
        "D2",
        1_500_000,
        1_400_000,
        50_000,
    )


def test_claims_the_tables_do_not_cover_are_left_to_item_matching(drg_world):
    _load(
        drg_world,
        _row("D3", hospital="H31020000001", fund=1, patient=1),  # area without a DRG rate
        _row("D4", day="2026-03-09", fund=1, patient=1),  # the day before the area pays by DRG
        _row("D5", group="ZZ99", fund=1, patient=1),  # a group not in the table
        _row("D6", flag=0, fund=1, patient=1),  # not settled by DRG
    )
    assert drg_payment_mismatches(period=PERIOD) == []
