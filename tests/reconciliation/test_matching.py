from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from apps.reconciliation import matching, sql
from apps.reconciliation.models import Discrepancy

from .conftest import GD, SC, SH, row


def kinds(run: Any) -> list[tuple[str, str, str, str]]:
    return sorted(run.discrepancies.values_list("kind", "settlement_id", "side", "field"))


def test_identical_records_on_both_sides_are_matched_without_discrepancy(recon: Any) -> None:
    recon.both(row("S1"), row("S2"))
    run = recon.run()
    assert run.summary["counts"]["matched"] == 2
    assert kinds(run) == []


def test_amount_mismatch_names_the_amount_and_the_difference(recon: Any) -> None:
    recon.load("home", row("S1", total=10000, fund=7000))
    recon.load("destination", row("S1", total=10500, fund=7000))
    run = recon.run()
    rows = {d.field: d for d in run.discrepancies.filter(kind="amount_mismatch")}
    assert set(rows) == {"total_fen", "patient_fen"}
    assert (rows["total_fen"].home_value, rows["total_fen"].destination_value, rows["total_fen"].delta_fen) == ("10000", "10500", 500)
    assert run.summary["counts"]["matched"] == 0


def test_claim_only_the_destination_settled_is_missing_on_the_home_side(recon: Any) -> None:
    recon.load("home", row("S1"))
    recon.load("destination", row("S1"), row("S2"))
    assert kinds(recon.run()) == [("missing_home", "S2", "home", "")]


def test_claim_only_the_home_side_recorded_is_missing_on_the_destination_side(recon: Any) -> None:
    recon.load("home", row("S1"), row("S3"))
    recon.load("destination", row("S1"))
    assert kinds(recon.run()) == [("missing_destination", "S3", "destination", "")]


def test_duplicate_settlement_ids_are_reported_per_side_and_not_matched(recon: Any) -> None:
    recon.load("home", row("S1"), row("S1"))
    recon.load("destination", row("S1"), row("S2"))
    recon.load("destination", row("S2"))
    run = recon.run()
    dups = sorted(run.discrepancies.filter(kind="duplicate").values_list("settlement_id", "side", "count"))
    assert dups == [("S1", "home", 2), ("S2", "destination", 2)]
    assert run.summary["counts"]["matched"] == 0


def test_release_label_must_be_the_release_in_force_on_the_date_of_service(recon: Any) -> None:
    # 2026.03 takes effect on 1 March: the day before, 2026.01 is in force.
    recon.both(
        row("EVE-NEW", day="2026-02-28", label="2026.03"),
        row("EVE-OLD", day="2026-02-28", label="2026.01"),
        row("DAY-NEW", day="2026-03-01", label="2026.03"),
        row("DAY-OLD", day="2026-03-01", label="2026.01"),
    )
    run = recon.run()
    flagged = sorted(run.discrepancies.filter(kind="release_not_in_force").values_list("settlement_id", "side", "expected"))
    assert flagged == [
        ("DAY-OLD", "destination", "2026.03"),
        ("DAY-OLD", "home", "2026.03"),
        ("EVE-NEW", "destination", "2026.01"),
        ("EVE-NEW", "home", "2026.01"),
    ]
    assert run.summary["counts"]["matched"] == 4  # amounts agree: the version flag does not unmatch


def test_release_check_flags_only_the_side_that_coded_wrongly(recon: Any) -> None:
    recon.load("home", row("S1", label="2026.03"))
    recon.load("destination", row("S1", label="2026.01"))
    recon.run()
    d = Discrepancy.objects.get(kind="release_not_in_force")
    assert (d.side, d.destination_value, d.expected) == ("destination", "2026.01", "2026.03")


def test_matched_fund_amounts_become_net_positions_that_sum_to_zero(recon: Any) -> None:
    recon.both(row("A", home=SC, dest=SH, fund=7000), row("B", home=SH, dest=GD, fund=3000), row("C", home=GD, dest=SH, fund=1000))
    run = recon.run()
    assert run.summary["net_positions"] == {GD: 2000, SC: -7000, SH: 5000}
    assert sum(run.summary["net_positions"].values()) == 0
    transfers = {(t["from"], t["to"], t["amount_fen"]) for t in run.summary["transfers"]}
    assert transfers == {(SC, SH, 5000), (SC, GD, 2000)}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the flush after it keeps the provinces
def test_the_benchmark_yardstick_groups_with_the_work_mem_of_the_match() -> None:
    """matching.baseline_group_by raises work_mem as the match does (256 MB) even when called
    outside a transaction, where ``SET LOCAL`` alone is ignored and the yardstick spilled its
    hash table to disk at 4 MB; the setting ends with its statement's transaction."""
    seen: list[str] = []

    def spy(execute: Any, sql_text: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql_text, params, many, context)
        if sql_text == sql.BASELINE_GROUP_BY_SQL:
            with context["connection"].cursor() as cursor:
                cursor.execute("SHOW work_mem")
                seen.append(cursor.fetchone()[0])
        return result

    with connection.execute_wrapper(spy):
        assert matching.baseline_group_by(period="2026-03") == (0, 0)
    assert seen == ["256MB"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW work_mem")
        assert cursor.fetchone()[0] != "256MB"
