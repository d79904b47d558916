"""Advance funds (预付金) at the national clearing account: the monthly clearing draws on them,
a province whose advance falls below its threshold gets one top-up proposal, the statement
selector; and the settled amounts pooling keeps from each clearing."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from apps.benefits.models import Province
from apps.core.errors import Forbidden, ValidationFailed
from apps.core.models import AuditEvent
from apps.pooling import selectors, services
from apps.pooling.models import ClearingResult, FundAccount, Transfer
from tests.pooling.conftest import SC, SH, account, fund, key
from tests.reconciliation.conftest import _recon_world, row

pytestmark = pytest.mark.django_db


@pytest.fixture
def clearing(catalog_admin: Any, reviewer: Any) -> Any:
    """Reconciliation's test world: releases, a finance maker, settlement files and runs."""
    return _recon_world(catalog_admin, reviewer)


def policy(people: Any, province: str = SH, threshold: int = 1_000_000_00, target: int = 3_000_000_00) -> Any:
    checker = people.sh_checker if province == SH else people.sc_checker
    return services.advance_policy_set(
        province=Province.objects.get(code=province), threshold_fen=threshold, target_fen=target, user=checker, reason="2026 plan"
    )


def advance_in(province: str, amount: int, people: Any) -> None:
    """Put ``amount`` into the province's advance from its provincial fund (funded first), posted."""
    provincial, advance = account("provincial", province), account("advance", province)
    fund(provincial, amount, people)
    maker, checker = (people.sh_maker, people.sh_checker) if province == SH else (people.sc_maker, people.sc_checker)
    transfer = services.transfer_propose(
        from_account=provincial, to_account=advance, amount_fen=amount, proposer=maker, idempotency_key=key()
    )
    services.transfer_approve(transfer=transfer, approver=checker)


def topups(province: str = SH) -> list[Transfer]:
    return list(Transfer.objects.filter(idempotency_key__startswith=f"advance-topup:{province}:").order_by("pk"))


def test_every_province_has_an_advance_account(ledger):
    assert FundAccount.objects.filter(kind="advance").count() == Province.objects.count()


def test_the_advance_policy_is_set_by_a_checker_not_a_maker(people):
    with pytest.raises(Forbidden):
        services.advance_policy_set(province=Province.objects.get(code=SH), threshold_fen=1, target_fen=2, user=people.sh_maker)


def test_a_checker_of_another_province_cannot_set_the_advance_policy(people):
    with pytest.raises(Forbidden) as refused:
        services.advance_policy_set(province=Province.objects.get(code=SH), threshold_fen=1, target_fen=2, user=people.sc_checker)
    assert refused.value.code == "wrong_province"


def test_a_target_below_the_threshold_is_refused(people):
    with pytest.raises(ValidationFailed):
        policy(people, threshold=2_000_00, target=1_000_00)


def test_no_topup_while_the_advance_is_at_the_threshold(people):
    policy(people, threshold=1_000_000_00)
    advance_in(SH, 1_000_000_00, people)
    assert services.advance_topups_check() == []


def test_an_advance_below_the_threshold_gets_a_topup_back_to_the_target(people):
    policy(people, threshold=1_000_000_00, target=3_000_000_00)
    advance_in(SH, 999_999_99, people)
    (topup,) = services.advance_topups_check()
    assert (topup.from_account, topup.to_account, topup.amount_fen, topup.state) == (
        account("provincial", SH),
        account("advance", SH),
        2_000_000_01,
        "proposed",
    )


def test_a_second_check_proposes_nothing_more(people):
    policy(people)
    services.advance_topups_check()
    services.advance_topups_check()
    assert len(topups()) == 1


def test_a_province_without_a_policy_gets_no_topup(people):
    policy(people, SC)
    services.advance_topups_check()
    assert (len(topups(SH)), len(topups(SC))) == (0, 1)


def test_debits_waiting_for_approval_count_in_the_projection(people):
    policy(people, threshold=1_000_000_00, target=3_000_000_00)
    advance_in(SH, 3_000_000_00, people)
    services.transfer_propose(
        from_account=account("advance", SH),
        to_account=account("provincial", SC),
        amount_fen=2_500_000_00,
        proposer=people.sh_maker,
        idempotency_key=key(),
    )
    (topup,) = services.advance_topups_check()
    assert topup.amount_fen == 2_500_000_00


def test_a_rejected_topup_is_proposed_again_at_the_next_check(people):
    policy(people)
    (first,) = services.advance_topups_check()
    services.transfer_reject(transfer=first, user=people.sh_checker, reason="wait for next month")
    (second,) = services.advance_topups_check()
    assert (second.pk != first.pk, second.idempotency_key) == (True, f"advance-topup:{SH}:2")


def test_the_topup_event_says_why(people):
    policy(people)
    (topup,) = services.advance_topups_check()
    event = AuditEvent.objects.get(action="transfer.proposed", object_id=str(topup.pk))
    assert "below the threshold" in event.reason


def test_the_statement_selector_gives_the_months_opening_draws_topups_and_closing(people):
    policy(people)
    advance_in(SH, 500_00, people)
    drawn = services.transfer_propose(
        from_account=account("advance", SH),
        to_account=account("provincial", SC),
        amount_fen=200_00,
        proposer=people.sh_maker,
        idempotency_key=key(),
    )
    services.transfer_approve(transfer=drawn, approver=people.sh_checker)
    period = timezone.localdate().strftime("%Y-%m")
    statement = selectors.advance_statement(province_code=SH, period=period)
    assert (statement["opening_balance_fen"], statement["drawn_fen"], statement["topped_up_fen"], statement["closing_balance_fen"]) == (
        0,
        200_00,
        500_00,
        300_00,
    )


def test_the_clearing_pays_from_the_advance_of_a_province_that_prefunds(clearing, people, django_capture_on_commit_callbacks):
    policy(people, SC)
    recon = clearing
    recon.both(row("S1", home=SC, dest=SH, fund=7000))
    with django_capture_on_commit_callbacks(execute=True):
        run = recon.run()
    (transfer,) = Transfer.objects.filter(pk__in=run.transfer_ids).select_related("from_account")
    assert (transfer.from_account.kind, transfer.from_account.province_code) == ("advance", SC)


def test_a_clearing_that_leaves_the_advance_below_its_threshold_proposes_a_topup(clearing, people, django_capture_on_commit_callbacks):
    policy(people, SC, threshold=10_000, target=50_000)
    advance_in(SC, 50_000, people)
    recon = clearing
    recon.both(row("S1", home=SC, dest=SH, fund=45_000, total=60_000))
    with django_capture_on_commit_callbacks(execute=True):
        recon.run()
    (topup,) = topups(SC)
    assert (topup.amount_fen, topup.state) == (45_000, "proposed")


def test_a_clearing_that_leaves_the_advance_above_its_threshold_proposes_nothing(clearing, people, django_capture_on_commit_callbacks):
    policy(people, SC, threshold=10_000, target=50_000)
    advance_in(SC, 50_000, people)
    recon = clearing
    recon.both(row("S1", home=SC, dest=SH, fund=40_000, total=60_000))
    with django_capture_on_commit_callbacks(execute=True):
        recon.run()
    assert topups(SC) == []


def test_the_clearing_leaves_pooling_the_settled_amounts_per_province(clearing, people):
    recon = clearing
    recon.both(row("S1", home=SC, dest=SH, fund=7000), row("S2", home=SC, dest=SH, fund=3000), row("S3", home=SH, dest=SC, fund=500))
    run = recon.run()
    results = {
        r.province.code: (r.payable_fen, r.receivable_fen, r.claims, r.source) for r in ClearingResult.objects.filter(period="2026-03")
    }
    assert results == {SC: (10_000, 500, 2, f"reconciliation run #{run.pk}"), SH: (500, 10_000, 1, f"reconciliation run #{run.pk}")}


def test_a_rerun_of_the_month_replaces_the_settled_amounts_and_keeps_the_old_in_history(clearing, people):
    recon = clearing
    recon.both(row("S1", home=SC, dest=SH, fund=7000))
    recon.run()
    recon.both(row("S2", home=SC, dest=SH, fund=1000))
    recon.run()
    result = ClearingResult.objects.get(period="2026-03", province__code=SC)
    assert (result.payable_fen, result.history.count()) == (8000, 2)


def test_the_daily_check_uses_the_same_rule(people):
    from apps.pooling.tasks import daily_checks

    policy(people)
    result = daily_checks()
    assert [t.pk for t in topups()] == result["topups"]


def test_a_province_whose_topup_is_refused_does_not_stop_the_others(people):
    policy(people, SH)
    policy(people, SC)
    system = services.system_proposer(name="advance")
    services.transfer_propose(  # SH's next top-up key (this one makes it ":2"), held by another body
        from_account=account("provincial", SH),
        to_account=account("advance", SH),
        amount_fen=1,
        proposer=system,
        idempotency_key=f"advance-topup:{SH}:2",
    )
    Transfer.objects.filter(idempotency_key=f"advance-topup:{SH}:2").update(state="voided")
    proposed = services.advance_topups_check()
    assert [t.to_account.province_code for t in proposed] == [SC]
