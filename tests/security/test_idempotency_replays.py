"""Idempotency-Key replays on POST /api/v1/transfers/: a retried request never moves money twice,
whatever happened to the first transfer in between, and a key never reveals someone else's transfer."""

from __future__ import annotations

import pytest

from apps.pooling.models import LedgerEntry, Transfer
from tests.pooling.conftest import SH, account, fund

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(people):
    fund(account("provincial", SH), 500_00, people)


def _body(amount=10_00, memo="m"):
    return {"from_account": account("provincial", SH).pk, "to_account": account("national").pk, "amount_fen": amount, "memo": memo}


def _propose(client, key="replay-1", **body):
    return client.post("/api/v1/transfers/", _body(**body), format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_replay_after_the_transfer_was_posted_returns_it_and_posts_nothing_more(api, people, funded):
    maker, checker = api(people.sh_maker), api(people.sh_checker)
    first = _propose(maker).json()
    checker.post(f"/api/v1/transfers/{first['id']}/approve/")
    entries, balance = LedgerEntry.objects.count(), account("provincial", SH).balance_fen
    again = _propose(maker)
    assert (
        again.status_code,
        again.json()["id"],
        again.json()["state"],
        LedgerEntry.objects.count(),
        account("provincial", SH).balance_fen,
    ) == (
        200,
        first["id"],
        "posted",
        entries,
        balance,
    )


@pytest.mark.parametrize("close", ["reject", "void"])
def test_replay_after_the_transfer_was_closed_does_not_propose_it_again(api, people, funded, close):
    maker = api(people.sh_maker)
    first = _propose(maker).json()
    closer = api(people.sh_checker) if close == "reject" else maker
    closer.post(f"/api/v1/transfers/{first['id']}/{close}/", {"reason": "duplicate"}, format="json")
    again = _propose(maker)
    assert (again.status_code, again.json()["state"], Transfer.objects.filter(idempotency_key="replay-1").count()) == (
        200,
        "rejected" if close == "reject" else "voided",
        1,
    )


def test_many_replays_make_one_transfer(api, people, funded):
    maker = api(people.sh_maker)
    ids = {_propose(maker).json()["id"] for _ in range(20)}
    assert (len(ids), Transfer.objects.filter(idempotency_key="replay-1").count()) == (1, 1)


def test_replay_with_another_memo_is_a_conflict_and_changes_nothing(api, people, funded):
    maker = api(people.sh_maker)
    first = _propose(maker, memo="first").json()
    again = _propose(maker, memo="second")
    assert (again.status_code, again.json()["code"], Transfer.objects.get(pk=first["id"]).memo) == (
        409,
        "idempotency_key_conflict",
        "first",
    )


def test_another_maker_using_the_same_key_never_sees_the_first_makers_transfer(api, people, funded):
    from apps.core.roles import Role
    from tests.factories import staff

    first = _propose(api(people.sh_maker)).json()
    other = staff(Role.FINANCE_MAKER, SH, username="sh-maker-2")
    again = _propose(api(other))
    assert (again.status_code, again.json()["id"] != first["id"]) == (201, True)


def test_a_key_of_129_characters_is_refused(api, people, funded):
    before = Transfer.objects.count()
    response = _propose(api(people.sh_maker), key="k" * 129)
    assert (response.status_code, response.json()["errors"][0]["field"], Transfer.objects.count()) == (400, "Idempotency-Key", before)


def test_a_blank_key_is_refused(api, people, funded):
    response = _propose(api(people.sh_maker), key="   ")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
