"""A claim is paid once (issue 18's last defects): a claim settled by a decision on one of its
discrepancies (resolved: its amount nets once as an adjustment; written off: never) does not net
again as a matched claim when a correction or a withdrawal later makes it match, whatever run
or period the adjustment netted in; a discrepancy the latest run no longer finds takes no step
towards money; PostgreSQL keeps an adjustment netting in one run (or the rerun that replaces it).
The money of the clearing reaches pooling (``clearing_recorded``) and the monthly statement with
the adjustments included."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from apps.core.errors import Conflict
from apps.core.roles import Role
from apps.pooling.models import ClearingResult
from apps.reconciliation import services
from apps.reconciliation.models import Discrepancy, SettlementBatch
from tests.factories import staff

from .conftest import PERIOD, SC, SH, csv_bytes, row

OTHER_PERIOD = "2026-04"


class People:
    def __init__(self) -> None:
        self.sc_maker = staff(Role.FINANCE_MAKER, SC, username="once-sc-maker")
        self.sc_checker = staff(Role.FINANCE_CHECKER, SC, username="once-sc-checker")
        self.sh_maker = staff(Role.FINANCE_MAKER, SH, username="once-sh-maker")
        self.sh_checker = staff(Role.FINANCE_CHECKER, SH, username="once-sh-checker")


@pytest.fixture
def month(recon: Any) -> Any:
    """Sichuan's insured treated in Shanghai: S1 matches (fund ¥70.00); S2's fund share differs
    (home ¥50.00, destination ¥55.00); S3 (¥20.00) is missing at home. Runs under both plans."""
    recon.load("home", row("S1"), row("S2", fund=5000))
    recon.load("destination", row("S1"), row("S2", fund=5500), row("S3", fund=2000))
    recon.first = recon.run()
    recon.people = People()
    return recon


def _found(run: Any, kind: str, sid: str, field: str = "") -> Discrepancy:
    return Discrepancy.objects.get(run=run, kind=kind, settlement_id=sid, field=field)


def _settle(month: Any, d: Discrepancy, resolution: str) -> Discrepancy:
    """Sichuan's maker proposes, Shanghai's checker approves."""
    p = month.people
    services.discrepancy_resolve(discrepancy=d, user=p.sc_maker, resolution=resolution, reason="双方核对")
    return services.discrepancy_approve(discrepancy=d, user=p.sh_checker)


def _home_batch(period: str = PERIOD) -> SettlementBatch:
    return SettlementBatch.objects.get(period=period, side="home", province=SC, state="active")


def _correct_home(month: Any, *rows: str) -> None:
    """Sichuan replaces its home file of the month with corrected rows."""
    services.settlement_import(
        period=PERIOD, side="home", file=io.BytesIO(csv_bytes(*rows)), user=month.maker, filename="fix.csv", replaces=_home_batch().pk
    )


def _sc_pays(run: Any) -> int:
    return -run.summary["net_positions"].get(SC, 0)


def test_a_resolved_claim_corrected_to_match_is_paid_once_when_its_adjustment_netted_in_a_rerun(month: Any) -> None:
    _settle(month, _found(month.first, "amount_mismatch", "S2", "fund_fen"), "accept_destination")
    second = month.run()  # the resolution nets: S1 ¥70 + S2 ¥55
    assert _sc_pays(second) == 12_500
    _correct_home(month, row("S1"), row("S2", fund=5500))  # now S2 matches at ¥55
    third = month.run()
    assert _sc_pays(third) == 7_000 + 5_500  # not 7,000 + 5,500 × 2
    assert [(c["settlement_id"], c["state"], c["amount_fen"], c["matched_fund_fen"]) for c in third.summary["already_settled"]] == [
        ("S2", "resolved", 5500, 5500)
    ]
    assert third.summary["counts"]["already_settled"] == 1


def test_a_resolved_claim_corrected_to_match_is_paid_once_when_its_adjustment_netted_in_another_month(month: Any) -> None:
    d = _settle(month, _found(month.first, "amount_mismatch", "S2", "fund_fen"), "accept_destination")
    april = services.reconciliation_run(period=OTHER_PERIOD, user=month.maker)
    assert [a["discrepancy"] for a in april.summary["adjustments"]] == [d.pk] and _sc_pays(april) == 5_500
    _correct_home(month, row("S1"), row("S2", fund=5500))
    march = month.run()
    assert _sc_pays(march) + _sc_pays(april) == 7_000 + 5_500
    assert march.summary["adjustments"] == []


def test_a_written_off_claim_corrected_to_match_stays_written_off(month: Any) -> None:
    d = _settle(month, _found(month.first, "amount_mismatch", "S2", "fund_fen"), "write_off")
    _correct_home(month, row("S1"), row("S2", fund=5500))
    second = month.run()
    assert _sc_pays(second) == 7_000
    assert [(c["discrepancy"], c["state"], c["amount_fen"]) for c in second.summary["already_settled"]] == [(d.pk, "written_off", None)]


def test_a_withdrawn_and_reimported_home_file_does_not_pay_a_resolved_claim_again(month: Any) -> None:
    d = _settle(month, _found(month.first, "missing_home", "S3"), "accept_destination")
    second = month.run()
    assert _sc_pays(second) == 7_000 + 2_000
    services.settlement_batch_withdraw(batch=_home_batch(), user=month.people.sc_maker, reason="整批重报")
    third = month.run()  # nothing matches any more; the resolution still nets, in place of the superseded run's
    assert (_sc_pays(third), [a["discrepancy"] for a in third.summary["adjustments"]]) == (2_000, [d.pk])
    month.load("home", row("S1"), row("S2", fund=5000), row("S3", fund=2000))
    fourth = month.run()
    assert _sc_pays(fourth) == 7_000 + 2_000
    assert [c["settlement_id"] for c in fourth.summary["already_settled"]] == ["S3"]


def test_a_release_not_in_force_write_off_leaves_the_claim_paid_as_matched(month: Any) -> None:
    month.load("home", row("S4", label="2026.01"))
    month.load("destination", row("S4", label="2026.01"))
    second = month.run()
    d = Discrepancy.objects.filter(run=second, kind="release_not_in_force", settlement_id="S4").first()
    _settle(month, d, "write_off")
    third = month.run()
    assert _sc_pays(third) == 7_000 + 7_000 and third.summary["already_settled"] == []


def test_a_proposal_the_latest_run_no_longer_finds_cannot_be_approved(month: Any) -> None:
    p = month.people
    d = services.discrepancy_resolve(
        discrepancy=_found(month.first, "amount_mismatch", "S2", "fund_fen"), user=p.sc_maker, resolution="accept_destination", reason="x"
    )
    _correct_home(month, row("S1"), row("S2", fund=5500))
    second = month.run()  # S2 matches now and is paid as matched; the proposal stays on the superseded run
    assert _sc_pays(second) == 12_500
    with pytest.raises(Conflict) as refused:
        services.discrepancy_approve(discrepancy=d, user=p.sh_checker)
    assert refused.value.code == "discrepancy_superseded"
    d.refresh_from_db()
    assert services.discrepancy_allowed_actions(discrepancy=d, user=p.sh_checker) == []
    assert _sc_pays(month.run()) == 12_500


def test_the_database_refuses_a_step_on_a_discrepancy_of_a_superseded_run(month: Any) -> None:
    p = month.people
    d = services.discrepancy_resolve(
        discrepancy=_found(month.first, "amount_mismatch", "S2", "fund_fen"), user=p.sc_maker, resolution="accept_destination", reason="x"
    )
    _correct_home(month, row("S1"), row("S2", fund=5500))
    month.run()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE reconciliation_discrepancy SET state = 'resolved', approved_by_id = %s WHERE id = %s", [p.sh_checker.pk, d.pk]
        )


def test_the_database_nets_an_adjustment_in_one_run_only(month: Any) -> None:
    d = _settle(month, _found(month.first, "missing_home", "S3"), "accept_destination")
    month.run()
    april = services.reconciliation_run(period=OTHER_PERIOD, user=month.maker)
    assert april.summary["adjustments"] == []  # netted in March's run already
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE reconciliation_discrepancy SET netted_in_run_id = %s WHERE id = %s", [april.pk, d.pk])
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE reconciliation_discrepancy SET netted_in_run_id = NULL WHERE id = %s", [d.pk])


# --- the clearing's money reaches pooling and the statement, adjustments included ---------------


def test_pooling_records_every_pair_that_carries_money_adjustments_included(month: Any) -> None:
    _settle(month, _found(month.first, "missing_home", "S3"), "accept_destination")
    second = month.run()
    results = {r.province.code: (r.payable_fen, r.receivable_fen, r.claims) for r in ClearingResult.objects.filter(period=PERIOD)}
    assert results == {SC: (7_000 + 2_000, 0, 1), SH: (0, 7_000 + 2_000, 0)}
    assert _sc_pays(second) == results[SC][0]


def test_an_adjustment_only_pair_reaches_pooling_in_the_month_it_nets(month: Any) -> None:
    _settle(month, _found(month.first, "missing_home", "S3"), "accept_destination")
    services.reconciliation_run(period=OTHER_PERIOD, user=month.maker)  # April has no claims, only the adjustment
    results = {r.province.code: (r.payable_fen, r.receivable_fen) for r in ClearingResult.objects.filter(period=OTHER_PERIOD)}
    assert results == {SC: (2_000, 0), SH: (0, 2_000)}


def test_the_clearing_statement_nets_to_the_runs_position_with_adjustments(month: Any, api: Any) -> None:
    d = _settle(month, _found(month.first, "missing_home", "S3"), "accept_destination")
    second = month.run()
    body = api(month.people.sc_checker).get(f"/api/v1/reconciliation/runs/{second.pk}/statement/?format=json").json()
    (shanghai,) = body["counterparts"]
    assert (shanghai["owes_fen"], shanghai["adjustments_owed_fen"], shanghai["net_fen"]) == (7_000, 2_000, -9_000)
    assert (body["totals"]["net_fen"], body["net_position_fen"]) == (-9_000, -9_000)
    assert [(a["discrepancy"], a["counterpart"], a["direction"], a["amount_fen"]) for a in body["adjustments"]] == [
        (d.pk, SH, "pays", 2_000)
    ]
