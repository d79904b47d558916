from __future__ import annotations

import io
from typing import Any

import pytest
from django.db import connection

from apps.core.bulk import BulkFileRejected
from apps.pooling import services as pooling
from apps.pooling.models import Transfer
from apps.reconciliation import services
from apps.reconciliation.models import SettlementRecord
from tests.factories import staff

from .conftest import HEADER, PERIOD, SC, SH, row


def snapshot(run: Any) -> list[tuple[Any, ...]]:
    return sorted(run.discrepancies.values_list("kind", "settlement_id", "side", "field", "home_value", "destination_value", "delta_fen"))


def test_rerun_on_the_same_imports_gives_the_same_discrepancies_and_no_new_proposals(recon: Any) -> None:
    recon.load("home", row("S1"), row("S2", fund=5000), row("S3"))
    recon.load("destination", row("S1"), row("S2", fund=5500))
    first = recon.run()
    before = snapshot(first)
    second = recon.run()
    assert snapshot(second) == before and before
    assert second.transfer_ids == first.transfer_ids
    assert Transfer.objects.count() == 1
    first.refresh_from_db()
    assert first.state == "superseded" and not first.discrepancies.exists()


def test_rerun_after_new_imports_voids_unapproved_proposals_and_never_touches_posted_ones(recon: Any) -> None:
    fin_maker = staff("finance_maker", SC, username="sc-maker-x")
    pooling.fund_income_record(province_code=SC, amount_fen=10**9, proposer=fin_maker, approver=recon.checker, idempotency_key="income-1")
    recon.both(row("S1", fund=7000))
    first = recon.run()
    posted = Transfer.objects.get(pk=first.transfer_ids[0])
    pooling.transfer_approve(transfer=posted, approver=recon.checker)
    recon.both(row("S2", fund=3000))
    second = recon.run()
    proposal = Transfer.objects.get(pk=second.transfer_ids[0])
    assert (proposal.amount_fen, proposal.state) == (3000, "proposed")  # the posted 7000 counts as paid
    recon.both(row("S3", fund=1000))
    third = recon.run()
    proposal.refresh_from_db()
    posted.refresh_from_db()
    assert proposal.state == "voided" and "superseded" in proposal.reason
    assert posted.state == "posted"
    assert Transfer.objects.get(pk=third.transfer_ids[0]).amount_fen == 4000
    assert third.summary["net_positions"] == {SC: -4000, SH: 4000}


def test_a_file_with_bad_rows_imports_nothing_and_names_line_and_column(recon: Any) -> None:
    bad = "\n".join(
        [HEADER, row("S1"), row("S2", day="2026-02-30"), "S3,310000,310000,H1,p,2026-03-01,2026.03,,100,60,40", row("S4", total=-5)]
    )
    with pytest.raises(BulkFileRejected) as caught:
        services.settlement_import(period=PERIOD, side="home", file=io.BytesIO(bad.encode()), user=recon.maker)
    got = {(e["line"], e["column"], e["code"]) for e in caught.value.errors}
    assert (3, "date_of_service", "date_format") in got
    assert (4, "destination_province", "not_cross_province") in got
    assert (5, "total_fen", "not_fen") in got
    assert not SettlementRecord.objects.exists()


def test_an_import_leaves_fresh_planner_statistics_for_the_run(recon: Any) -> None:
    recon.load("home", row("S1"), row("S2"), row("S3"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'reconciliation_settlementrecord'")
        assert cursor.fetchone()[0] == 3


def test_a_rerun_after_an_advance_policy_proposes_from_the_advance_and_voids_the_old_proposal(recon_default_plan: Any) -> None:
    """The statements helper's 409: a rerun on the same inputs after Sichuan started pre-funding
    its clearing presented the old proposal's key with another debit account."""
    from apps.benefits.models import Province

    recon = recon_default_plan
    recon.both(row("S1", fund=7000))
    first = recon.run()
    (old,) = Transfer.objects.filter(pk__in=first.transfer_ids).select_related("from_account")
    assert old.from_account.kind == "provincial"
    national = staff("finance_checker", "", username="national-checker-adv")
    pooling.advance_policy_set(province=Province.objects.get(code=SC), threshold_fen=50_000, target_fen=100_000, user=national)
    second = recon.run()
    (new,) = Transfer.objects.filter(pk__in=second.transfer_ids).select_related("from_account")
    old.refresh_from_db()
    assert (new.from_account.kind, new.amount_fen, new.state, old.state) == ("advance", 7000, "proposed", "voided")
    assert recon.run().transfer_ids == second.transfer_ids  # and a rerun on the same inputs and policy replays it
