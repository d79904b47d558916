"""PostgreSQL drops the connection mid-transaction (pg_terminate_backend from a second
connection) during a publish and during a transfer post: nothing is half-written, and a retry
succeeds.

The backend is terminated at the worst moment: a commit gate (a deferred constraint trigger
waiting on a lock the test holds) stops the transaction at COMMIT, after every write of the
publish (diff, counts, exports, notices) or of the post (entries, balances, state) is done."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import InterfaceError, OperationalError, connection

from apps.catalog import services as catalog
from apps.catalog.demo import generate_items
from apps.catalog.models import CatalogRelease, ReleaseChange
from apps.notices.models import ChangeNotice, NoticeDelivery
from apps.pooling import services as pooling
from apps.pooling.models import FundAccount, LedgerEntry, Transfer
from tests.factories import draft_release
from tests.notices.notice_helpers import SUFFIX, hospital, with_endpoint
from tests.pooling.conftest import SC, SH, account, fund, key, ledger, people  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _terminated_at_the_gate(gate_: Any, write: Callable[[], Any]) -> None:
    """Run ``write``; a second thread terminates its backend once it waits at the gate."""
    killed: list[int] = []

    def terminator() -> None:
        pid = gate_.wait_for_waiter()
        gate_.terminate(pid)
        killed.append(pid)

    thread = threading.Thread(target=terminator)
    thread.start()
    try:
        with pytest.raises((OperationalError, InterfaceError)):
            write()
    finally:
        thread.join(timeout=30)
        connection.close()  # the next query opens a fresh connection
    assert killed, "the write never reached the gate"
    gate_.open()


def test_publish_with_its_connection_dropped_at_commit_leaves_the_release_approved_and_a_retry_publishes(
    gate, receiver, catalog_admin, reviewer
):
    h = hospital(1)
    receiver.expect(f"hook/{h.code}", with_endpoint(h, receiver.url(f"hook/{h.code}"))[1])
    release = draft_release(
        label=f"2026.05{SUFFIX}",
        effective_from=dt.date(2026, 5, 1),
        user=catalog_admin,
        items=list(generate_items(3, seed=5)),
    )
    catalog.release_submit(release=release, user=catalog_admin)
    catalog.release_approve(release=release, user=reviewer)
    # The release's own history row, written with its move to published: the diff's rows are
    # written before their partition is attached, where a gate on the diff table cannot see them.
    publish_gate = gate("catalog_historicalcatalogrelease")

    _terminated_at_the_gate(
        publish_gate, lambda: catalog.release_publish(release=CatalogRelease.objects.get(pk=release.pk), user=catalog_admin)
    )

    stored = CatalogRelease.objects.get(pk=release.pk)
    assert (stored.status, stored.sha256, stored.exports, stored.published_at) == ("approved", "", {}, None)
    assert (ReleaseChange.objects.count(), ChangeNotice.objects.count(), NoticeDelivery.objects.count()) == (0, 0, 0)

    published = catalog.release_publish(release=stored, user=catalog_admin)
    assert (published.status, ReleaseChange.objects.filter(release=published).count(), ChangeNotice.objects.count()) == (
        "published",
        3,
        1,
    )


def _balances() -> dict[int, int]:
    return dict(FundAccount.objects.values_list("pk", "balance_fen"))


def test_transfer_post_with_its_connection_dropped_at_commit_writes_no_entry_and_a_retry_posts(gate, people):  # noqa: F811
    source, target = account("provincial", SC), account("provincial", SH)
    fund(source, 500_00, people)
    transfer = pooling.transfer_propose(
        from_account=source, to_account=target, amount_fen=120_00, memo="settlement", proposer=people.sc_maker, idempotency_key=key()
    )
    balances, entries = _balances(), LedgerEntry.objects.count()
    entry_gate = gate("pooling_ledgerentry")

    _terminated_at_the_gate(entry_gate, lambda: pooling.transfer_approve(transfer=transfer, approver=people.sc_checker))

    assert (Transfer.objects.get(pk=transfer.pk).state, LedgerEntry.objects.count(), _balances()) == ("proposed", entries, balances)

    posted = pooling.transfer_approve(transfer=Transfer.objects.get(pk=transfer.pk), approver=people.sc_checker)
    after = _balances()
    assert (posted.state, LedgerEntry.objects.count() - entries) == ("posted", 2)
    assert (after[source.pk] - balances[source.pk], after[target.pk] - balances[target.pk]) == (-120_00, 120_00)
