"""A posted transfer is undone by at most one reversing transfer (API.md, Controls).

Regression: makers of Shanghai and Sichuan each proposed a reversal of one inter-province
transfer and both were posted, moving the money back twice.
"""

import pytest
from django.db import IntegrityError, transaction

from apps.core.errors import Conflict
from apps.core.models import AuditAction, AuditEvent
from apps.pooling import services
from apps.pooling.models import Transfer
from tests.pooling.conftest import SC, SH, People, account, fund, key

pytestmark = pytest.mark.django_db


@pytest.fixture
def posted(people: People) -> Transfer:
    """100.00 from Shanghai's provincial fund to Sichuan's, posted: makers of both may reverse it."""
    fund(account("provincial", SH), 500_00, people)
    transfer = services.transfer_propose(
        from_account=account("provincial", SH),
        to_account=account("provincial", SC),
        amount_fen=100_00,
        memo="clearing 2026-01",
        proposer=people.sh_maker,
        idempotency_key=key(),
    )
    return services.transfer_approve(transfer=transfer, approver=people.sh_checker)


def _reverse_api(client, transfer: Transfer, reason: str = "paid twice"):
    return client.post(f"/api/v1/transfers/{transfer.pk}/reverse/", {"reason": reason}, format="json")


def test_reverse_answers_201_with_the_proposed_reversing_transfer(api, people, posted):
    response = _reverse_api(api(people.sc_maker), posted)
    body = response.json()
    assert (response.status_code, body["state"], body["reverses"], body["from_account"], body["to_account"], body["amount_fen"]) == (
        201,
        "proposed",
        posted.pk,
        posted.to_account_id,
        posted.from_account_id,
        100_00,
    )


def test_a_second_reversal_while_one_is_proposed_is_409_transfer_already_reversed(api, people, posted):
    _reverse_api(api(people.sh_maker), posted)
    response = _reverse_api(api(people.sc_maker), posted)
    assert (response.status_code, response.json()["code"]) == (409, "transfer_already_reversed")


def test_makers_of_two_provinces_cannot_both_reverse_one_transfer(people, posted):
    services.transfer_reverse(transfer=posted, user=people.sh_maker, reason="paid twice")
    with pytest.raises(Conflict) as err:
        services.transfer_reverse(transfer=posted, user=people.sc_maker, reason="wrong month")
    assert (err.value.code, Transfer.objects.filter(reverses=posted).count()) == ("transfer_already_reversed", 1)


def test_the_same_maker_asking_again_is_refused_rather_than_given_a_second_reversal(people, posted):
    services.transfer_reverse(transfer=posted, user=people.sh_maker, reason="paid twice")
    with pytest.raises(Conflict) as err:
        services.transfer_reverse(transfer=posted, user=people.sh_maker, reason="paid twice")
    assert err.value.code == "transfer_already_reversed"


def test_a_posted_reversal_blocks_any_further_reversal(people, posted):
    reversal = services.transfer_reverse(transfer=posted, user=people.sh_maker, reason="paid twice")
    services.transfer_approve(transfer=reversal, approver=people.sc_checker)
    with pytest.raises(Conflict) as err:
        services.transfer_reverse(transfer=posted, user=people.sc_maker, reason="again")
    assert err.value.code == "transfer_already_reversed"


def test_the_money_comes_back_exactly_once(people, posted):
    reversal = services.transfer_reverse(transfer=posted, user=people.sh_maker, reason="paid twice")
    services.transfer_approve(transfer=reversal, approver=people.sc_checker)
    with pytest.raises(Conflict):
        services.transfer_reverse(transfer=posted, user=people.sc_maker, reason="again")
    assert (account("provincial", SH).balance_fen, account("provincial", SC).balance_fen) == (500_00, 0)


@pytest.mark.parametrize("close", ["reject", "void"])
def test_after_a_refused_reversal_the_same_maker_can_propose_a_new_one(people, posted, close):
    first = services.transfer_reverse(transfer=posted, user=people.sh_maker, reason="paid twice")
    if close == "reject":
        services.transfer_reject(transfer=first, user=people.sc_checker, reason="not paid twice")
    else:
        services.transfer_void(transfer=first, user=people.sh_maker, reason="typo")
    second = services.transfer_reverse(transfer=posted, user=people.sh_maker, reason="paid twice after all")
    assert (second.pk != first.pk, second.state, second.reverses_id) == (True, "proposed", posted.pk)


def test_the_reversal_reason_is_kept_whole_in_its_audit_event(people, posted):
    reason = "对账发现重复划拨，" * 40  # 360 characters: longer than a memo
    reversal = services.transfer_reverse(transfer=posted, user=people.sc_maker, reason=reason)
    event = AuditEvent.objects.get(action=AuditAction.TRANSFER_REVERSAL_PROPOSED, object_id=str(reversal.pk))
    assert (event.reason, event.detail["reverses"]) == (reason, posted.pk)


def test_a_refused_reversal_writes_no_audit_event(people, posted):
    services.transfer_reverse(transfer=posted, user=people.sh_maker, reason="paid twice")
    before = AuditEvent.objects.count()
    with pytest.raises(Conflict):
        services.transfer_reverse(transfer=posted, user=people.sc_maker, reason="again")
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("state", ["proposed", "posted"])
def test_database_refuses_a_second_live_reversal_of_a_transfer(people, posted, state):
    reversal = services.transfer_reverse(transfer=posted, user=people.sh_maker, reason="paid twice")
    if state == "posted":
        services.transfer_approve(transfer=reversal, approver=people.sc_checker)
    clone = Transfer(
        from_account_id=posted.to_account_id,
        to_account_id=posted.from_account_id,
        amount_fen=posted.amount_fen,
        idempotency_key="bypassing-the-service",
        request_fingerprint="x",
        proposed_by=people.sc_maker,
        reverses=posted,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()


def test_a_proposal_that_took_the_reversal_key_by_hand_is_not_handed_back_as_the_reversal(people, posted):
    services.transfer_propose(
        from_account=posted.to_account,
        to_account=posted.from_account,
        amount_fen=posted.amount_fen,
        memo=f"reversal of #{posted.pk}: paid twice",
        proposer=people.sc_maker,
        idempotency_key=f"reversal:{posted.pk}:1",
    )
    with pytest.raises(Conflict) as err:
        services.transfer_reverse(transfer=posted, user=people.sc_maker, reason="paid twice")
    assert err.value.code == "idempotency_key_conflict"
