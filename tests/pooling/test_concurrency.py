"""Concurrency with real PostgreSQL connections: each thread has its own Django connection."""

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from apps.core.errors import Conflict
from apps.core.roles import Role
from apps.pooling import selectors, services
from apps.pooling.models import LedgerEntry, Transfer
from tests.factories import staff
from tests.pooling.conftest import SC, SH, People, account, ensure_ledger, fund, key

# serialized_rollback: the flush after this test must not leave later tests without provinces.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def run_concurrently(actions: list[Callable[[], Any]]) -> list[str]:
    """Start every action at once (a barrier), each in its own thread and connection; return outcomes."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[str] = [""] * len(actions)

    def worker(index: int, action: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            action()
            outcomes[index] = "ok"
        except Conflict as exc:
            outcomes[index] = exc.code
        except Exception as exc:
            outcomes[index] = f"error: {exc!r}"
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.fixture
def setup() -> People:
    ensure_ledger()
    return People()


def test_sixteen_concurrent_approvals_post_a_transfer_exactly_once(setup):
    people = setup
    fund(account("provincial", SH), 100_00, people)
    checkers = [staff(Role.FINANCE_CHECKER, SH, username=f"race-checker-{i}") for i in range(16)]
    transfer = services.transfer_propose(
        from_account=account("provincial", SH),
        to_account=account("national"),
        amount_fen=7_00,
        proposer=people.sh_maker,
        idempotency_key=key(),
    )
    outcomes = run_concurrently([lambda c=c: services.transfer_approve(transfer=transfer, approver=c) for c in checkers])
    assert Counter(outcomes) == {"ok": 1, "transfer_not_proposed": 15}
    assert LedgerEntry.objects.filter(transfer=transfer).count() == 2
    assert account("provincial", SH).balance_fen == 93_00


def test_overdraft_race_posts_exactly_floor_of_balance_over_amount(setup):
    people = setup
    fund(account("provincial", SH), 100_00, people)
    # A process proposes what is owed (a person could not propose beyond the available balance):
    # the approvals race for the money.
    system = services.system_proposer(name="reconciliation")
    competing = [
        services.transfer_propose(
            from_account=account("provincial", SH),
            to_account=account("national"),
            amount_fen=30_00,
            proposer=system,
            idempotency_key=key(),
        )
        for _ in range(10)
    ]
    checkers = [people.sh_checker, people.sh_checker2]
    outcomes = run_concurrently(
        [lambda t=t, i=i: services.transfer_approve(transfer=t, approver=checkers[i % 2]) for i, t in enumerate(competing)]
    )
    assert Counter(outcomes) == {"ok": 100_00 // 30_00, "insufficient_funds": 10 - 100_00 // 30_00}
    assert account("provincial", SH).balance_fen == 100_00 - 3 * 30_00
    assert Transfer.objects.filter(pk__in=[t.pk for t in competing], state="proposed").count() == 7
    assert selectors.ledger_balance_mismatches() == []


def test_concurrent_proposals_with_one_key_make_one_transfer(setup):
    people = setup
    fund(account("provincial", SH), 100_00, people)

    def propose() -> None:
        services.transfer_propose(
            from_account=account("provincial", SH),
            to_account=account("national"),
            amount_fen=5_00,
            proposer=people.sh_maker,
            idempotency_key="retry-1",
        )

    outcomes = run_concurrently([propose] * 8)
    assert (Counter(outcomes), Transfer.objects.filter(idempotency_key="retry-1").count()) == ({"ok": 8}, 1)


def test_concurrent_proposals_never_promise_more_than_the_available_balance(setup):
    people = setup
    fund(account("provincial", SH), 100_00, people)
    outcomes = run_concurrently(
        [
            lambda: services.transfer_propose(
                from_account=account("provincial", SH),
                to_account=account("national"),
                amount_fen=30_00,
                proposer=people.sh_maker,
                idempotency_key=key(),
            )
            for _ in range(6)
        ]
    )
    assert Counter(outcomes) == {"ok": 3, "insufficient_funds": 3}
    assert selectors.account_available_fen(account=account("provincial", SH)) == 10_00


def test_makers_of_two_provinces_racing_to_reverse_one_transfer_make_one_reversal(setup):
    people = setup
    fund(account("provincial", SH), 100_00, people)
    posted = services.transfer_approve(
        transfer=services.transfer_propose(
            from_account=account("provincial", SH),
            to_account=account("provincial", SC),
            amount_fen=40_00,
            proposer=people.sh_maker,
            idempotency_key=key(),
        ),
        approver=people.sh_checker,
    )
    makers = [staff(Role.FINANCE_MAKER, SH if i % 2 else SC, username=f"race-maker-{i}") for i in range(8)]
    outcomes = run_concurrently([lambda m=m: services.transfer_reverse(transfer=posted, user=m, reason="paid twice") for m in makers])
    assert Counter(outcomes) == {"ok": 1, "transfer_already_reversed": 7}
    assert Transfer.objects.filter(reverses=posted).count() == 1
