"""DRG-settled claims compared with the DRG tables (issue 20): what reconciliation reads to
flag a destination that paid a DRG claim other than its area's table says. Turning these rows
into Discrepancy rows of their own kind is the month close's (it owns that table's kinds)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from . import sql
from .matching import active_batch_ids


@dataclass(frozen=True)
class DrgMismatch:
    settlement_id: str
    home_province: str
    destination_province: str
    hospital_code: str
    drg_group: str
    date_of_service: dt.date
    destination_fund_fen: int
    destination_patient_fen: int
    hospital_payment_fen: int
    expected_fund_fen: int

    @property
    def delta_fen(self) -> int:
        """What the destination's fund paid beyond (positive) or short of the table."""
        return self.destination_fund_fen - self.expected_fund_fen


def drg_payment_mismatches(*, period: str) -> list[DrgMismatch]:
    """The period's destination-side DRG claims (``drg_flag``) whose fund share is not the DRG
    table's hospital payment less the patient's share, set-based in one statement. Claims in an
    area or on a date that DRG tables do not cover, or of a group not in the table, are left to
    the item-level matching."""
    with connection.cursor() as cursor:
        cursor.execute(sql.DRG_MISMATCH_SQL, [period, active_batch_ids(period)])
        return [DrgMismatch(*row) for row in cursor.fetchall()]
