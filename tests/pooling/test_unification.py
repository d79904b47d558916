"""A province moving to unified collection and expenditure (统收统支): its regional accounts are
emptied into the provincial fund by approved transfers, then a second person completes the
change; nothing is renamed or closed before that, and all of it is in history."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from apps.benefits.models import Province
from apps.core.errors import Conflict, Forbidden
from apps.core.models import AuditEvent
from apps.pooling import services
from apps.pooling.models import FundAccount, Transfer
from tests.pooling.conftest import SC, account, fund, key

pytestmark = pytest.mark.django_db
CHENGDU, ZIGONG = "510100", "510300"


@pytest.fixture
def sichuan(people):
    fund(account("regional", region=CHENGDU), 800_00, people)
    fund(account("regional", region=ZIGONG), 150_00, people)
    return Province.objects.get(code=SC)


def propose(sichuan, people):
    return services.unification_propose(province=sichuan, user=people.sc_maker, reason="省级统收统支 from 2027")


def approve_all(change, people):
    for transfer in Transfer.objects.filter(pk__in=change.transfer_ids, state="proposed"):
        services.transfer_approve(transfer=transfer, approver=people.sc_checker)


def test_every_regional_account_with_a_balance_gets_a_consolidation_proposal(sichuan, people):
    change = propose(sichuan, people)
    transfers = Transfer.objects.filter(pk__in=change.transfer_ids).select_related("from_account__region", "to_account")
    assert {(t.from_account.region.code, t.to_account.kind, t.amount_fen, t.state) for t in transfers} == {
        (CHENGDU, "provincial", 800_00, "proposed"),
        (ZIGONG, "provincial", 150_00, "proposed"),
    }


def test_nothing_changes_before_the_change_is_completed(sichuan, people):
    propose(sichuan, people)
    sichuan.refresh_from_db()
    assert (sichuan.pooling_model, FundAccount.objects.filter(province=sichuan, closed_at__isnull=False).count()) == ("adjustment_fund", 0)


def test_proposing_again_proposes_nothing_new_while_the_first_are_waiting(sichuan, people):
    first = propose(sichuan, people)
    again = propose(sichuan, people)
    assert (again.pk, again.transfer_ids) == (first.pk, first.transfer_ids)


def test_an_overdrawn_regional_account_is_refilled_from_the_provincial_fund(sichuan, people):
    regional = account("regional", region="510400")
    FundAccount.objects.filter(pk=regional.pk).update(overdraft_limit_fen=100_00)
    services.transfer_approve(
        transfer=services.transfer_propose(
            from_account=regional, to_account=account("provincial", SC), amount_fen=30_00, proposer=people.sc_maker, idempotency_key=key()
        ),
        approver=people.sc_checker,
    )
    change = propose(sichuan, people)
    refill = Transfer.objects.get(pk__in=change.transfer_ids, to_account=regional)
    assert (refill.from_account.kind, refill.amount_fen) == ("provincial", 30_00)


def test_completing_while_transfers_wait_is_refused_with_what_is_left(sichuan, people):
    change = propose(sichuan, people)
    with pytest.raises(Conflict) as refused:
        services.unification_complete(change=change, user=people.sc_checker)
    assert (refused.value.code, {e["code"] for e in refused.value.errors}) == (
        "consolidation_incomplete",
        {"balance_not_zero", "transfer_pending"},
    )


def test_the_proposer_cannot_complete_the_change(sichuan, people):
    change = propose(sichuan, people)
    with pytest.raises(Conflict) as refused:
        services.unification_complete(change=change, user=people.sc_maker)
    assert refused.value.code == "same_user_cannot_approve"


def test_a_checker_of_another_province_cannot_complete_it(sichuan, people):
    change = propose(sichuan, people)
    approve_all(change, people)
    with pytest.raises(Forbidden) as refused:
        services.unification_complete(change=change, user=people.sh_checker)
    assert refused.value.code == "wrong_province"


def test_completion_unifies_the_province_closes_its_regional_accounts_and_renames_its_fund(sichuan, people):
    change = propose(sichuan, people)
    approve_all(change, people)
    services.unification_complete(change=change, user=people.sc_checker)
    sichuan.refresh_from_db()
    provincial = account("provincial", SC)
    still_open = FundAccount.objects.filter(province=sichuan, kind="regional", closed_at__isnull=True).count()
    assert (sichuan.pooling_model, still_open, provincial.name, provincial.balance_fen) == (
        "unified",
        0,
        "四川省 省级统筹基金",
        950_00,
    )


def test_every_change_of_the_completion_is_in_history_with_its_reason(sichuan, people):
    change = propose(sichuan, people)
    approve_all(change, people)
    services.unification_complete(change=change, user=people.sc_checker)
    reasons = [
        sichuan.history.first().history_change_reason,
        account("provincial", SC).history.first().history_change_reason,
        account("regional", region=CHENGDU).history.first().history_change_reason,
    ]
    assert [r.split(":")[0] for r in reasons] == [
        f"四川省 moved to unified collection and expenditure (change #{change.pk})",
        "renamed",
        "closed",
    ]


def test_the_change_writes_one_event_per_step(sichuan, people):
    change = propose(sichuan, people)
    approve_all(change, people)
    services.unification_complete(change=change, user=people.sc_checker)
    actions = list(AuditEvent.objects.filter(object_type="pooling.poolingmodelchange").values_list("action", flat=True))
    assert sorted(actions) == ["unification.completed", "unification.proposed"]


def test_a_closed_account_takes_no_new_proposal(sichuan, people):
    change = propose(sichuan, people)
    approve_all(change, people)
    services.unification_complete(change=change, user=people.sc_checker)
    with pytest.raises(Conflict) as refused:
        services.transfer_propose(
            from_account=account("provincial", SC),
            to_account=account("regional", region=CHENGDU),
            amount_fen=1,
            proposer=people.sc_maker,
            idempotency_key=key(),
        )
    assert refused.value.code == "account_closed"


def test_database_refuses_an_entry_on_a_closed_account(sichuan, people):
    change = propose(sichuan, people)
    approve_all(change, people)
    services.unification_complete(change=change, user=people.sc_checker)
    closed, transfer = account("regional", region=CHENGDU), Transfer.objects.get(pk=change.transfer_ids[0])
    with pytest.raises(IntegrityError, match="closed"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO pooling_ledgerentry (account_id, transfer_id, amount_fen, posted_at) VALUES (%s, %s, 1, now())",
            [closed.pk, transfer.pk + 100_000],
        )


def test_a_unified_province_cannot_be_unified_again(sichuan, people):
    change = propose(sichuan, people)
    approve_all(change, people)
    services.unification_complete(change=change, user=people.sc_checker)
    with pytest.raises(Conflict) as refused:
        propose(sichuan, people)
    assert refused.value.code == "already_unified"
