"""Real Celery worker + real HTTP receiver: signed notices arrive, retries follow the
(compressed) schedule, 410 disables, replays deliver, and a SIGKILLed worker loses nothing."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.test import override_settings

from apps.notices import services as notices
from apps.notices.models import ChangeNotice, DeliveryAttempt, NoticeDelivery, WebhookEndpoint
from tests.integration.conftest import wait_for
from tests.notices.notice_helpers import hospital, release, with_endpoint

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _hospitals_with_endpoints(receiver, n, *, province="310000"):
    out = []
    for i in range(1, n + 1):
        h = hospital(i, province)
        path = f"hook/{h.code}"
        endpoint, secret = with_endpoint(h, receiver.url(path))
        receiver.expect(path, secret)
        out.append((h, endpoint, path))
    return out


def _settled():
    return not NoticeDelivery.objects.filter(state=NoticeDelivery.State.PENDING).exists()


def test_published_notices_arrive_signed_at_every_endpoint(start_worker, receiver, catalog_admin, reviewer):
    _hospitals_with_endpoints(receiver, 25)
    start_worker()
    release(1, admin=catalog_admin, reviewer=reviewer)
    wait_for(_settled, timeout=30, what="all deliveries to settle")
    expected = set(ChangeNotice.objects.values_list("webhook_id", flat=True))
    assert NoticeDelivery.objects.filter(state="delivered").count() == 25
    assert receiver.ok_ids() == expected


def test_retry_schedule_is_honoured(start_worker, receiver, catalog_admin, reviewer):
    ((_, _, path),) = _hospitals_with_endpoints(receiver, 1)
    receiver.script(path, 503, 502)
    start_worker(NOTICE_RETRY_SCHEDULE="0,1,2")
    release(1, admin=catalog_admin, reviewer=reviewer)
    wait_for(_settled, timeout=30, what="the delivery to settle")
    times = [r.at for r in receiver.for_path(path)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert list(DeliveryAttempt.objects.order_by("attempted_at").values_list("status_code", flat=True)) == [503, 502, 200]
    assert 0.8 <= gaps[0] < 2.5 and 1.6 <= gaps[1] < 4.0


def test_gone_disables_the_endpoint_and_fails_the_delivery(start_worker, receiver, catalog_admin, reviewer):
    ((_, endpoint, path),) = _hospitals_with_endpoints(receiver, 1)
    receiver.script(path, 410)
    start_worker()
    release(1, admin=catalog_admin, reviewer=reviewer)
    wait_for(_settled, timeout=30, what="the delivery to settle")
    endpoint = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (endpoint.active, NoticeDelivery.objects.get().state, len(receiver.for_path(path))) == (False, "failed", 1)


def test_failed_delivery_is_delivered_after_replay(start_worker, receiver, catalog_admin, reviewer):
    ((_, _, path),) = _hospitals_with_endpoints(receiver, 1)
    receiver.script(path, 500, 500, 500)
    start_worker(NOTICE_RETRY_SCHEDULE="0,0.2,0.2")
    release(1, admin=catalog_admin, reviewer=reviewer)
    wait_for(lambda: NoticeDelivery.objects.filter(state="failed").exists(), timeout=30, what="retries to be exhausted")
    notices.deliveries_replay(delivery_ids=NoticeDelivery.objects.values_list("id", flat=True), user=catalog_admin)
    wait_for(lambda: NoticeDelivery.objects.filter(state="delivered").exists(), timeout=30, what="the replay to deliver")
    assert len(receiver.ok_ids()) == 1


def _worker_backends() -> set[int]:
    """The PostgreSQL backends connected to this test's database other than this process's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'"
        )
        return {row[0] for row in cursor.fetchall()}


def test_a_worker_keeps_its_database_connection_between_tasks_and_replaces_a_broken_one(start_worker, receiver, catalog_admin, reviewer):
    _hospitals_with_endpoints(receiver, 1)
    start_worker()
    release(1, admin=catalog_admin, reviewer=reviewer)
    wait_for(_settled, timeout=30, what="the first release's delivery")
    kept = _worker_backends()
    release(2, admin=catalog_admin, reviewer=reviewer)
    wait_for(_settled, timeout=30, what="the second release's delivery")
    assert kept and _worker_backends() == kept, "the second batch should run on the first one's connection"

    with connection.cursor() as cursor:  # as a PostgreSQL restart or an administrator would
        cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [sorted(kept)])
    release(3, admin=catalog_admin, reviewer=reviewer)
    wait_for(_settled, timeout=30, what="the third release's delivery, on a new connection")
    assert NoticeDelivery.objects.filter(state="delivered").count() == 3 and len(receiver.ok_ids()) == 3
    assert _worker_backends() and not _worker_backends() & kept


@override_settings(NOTICE_BATCH_SIZE=40)
def test_worker_killed_mid_fan_out_loses_no_delivery(start_worker, receiver, catalog_admin, reviewer):
    _hospitals_with_endpoints(receiver, 320)
    receiver.delay = 0.02
    worker = start_worker(NOTICE_HTTP_CONCURRENCY=4)
    release(1, admin=catalog_admin, reviewer=reviewer)
    wait_for(lambda: len(receiver.received) >= 60, timeout=30, what="fan-out to start")
    worker.kill()
    killed_at = len(receiver.received)
    assert NoticeDelivery.objects.filter(state="pending").exists(), "the kill should land mid fan-out"
    start_worker(NOTICE_HTTP_CONCURRENCY=16)
    wait_for(_settled, timeout=45, what="every delivery to be delivered or failed")
    expected = set(ChangeNotice.objects.values_list("webhook_id", flat=True))
    assert NoticeDelivery.objects.filter(state="delivered").count() == 320
    assert receiver.ok_ids() >= expected
    assert killed_at < 320
