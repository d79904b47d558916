"""The broker restarts in the middle of a notice fan-out: every queued message is lost (a
private redis-server without persistence, killed and started again on the same port; never the
machine's shared Redis). The worker reconnects and every delivery still completes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from apps.notices.models import ChangeNotice, NoticeDelivery
from tests.integration.conftest import fresh_producer_pools
from tests.notices.notice_helpers import hospital, release, with_endpoint
from tests.reliability.conftest import PrivateRedis, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
HOSPITALS = 240


@pytest.fixture
def private_broker(broker: str, private_redis: PrivateRedis) -> Iterator[PrivateRedis]:
    """This process sends its task messages to the private Redis for the test's duration."""
    from config.celery import app

    saved = app.conf.broker_url
    app.conf.broker_url = private_redis.url
    fresh_producer_pools(app)
    yield private_redis
    app.conf.broker_url = saved
    fresh_producer_pools(app)


@override_settings(NOTICE_BATCH_SIZE=40)
def test_deliveries_resume_and_complete_after_the_broker_restarts_mid_fan_out(
    private_broker, start_worker, receiver, catalog_admin, reviewer
):
    for i in range(1, HOSPITALS + 1):
        h = hospital(i)
        _endpoint, secret = with_endpoint(h, receiver.url(f"hook/{h.code}"))
        receiver.expect(f"hook/{h.code}", secret)
    receiver.delay = 0.2  # a batch of 40 at concurrency 4 takes ~2 s: the restart lands inside one
    # Batches queued when the broker dies are lost with it; the periodic sweep (beat, compressed
    # to 2 s here, 30 s in production) finds their deliveries still pending and queues them again.
    start_worker(CELERY_BROKER_URL=private_broker.url, NOTICE_HTTP_CONCURRENCY=4, NOTICE_SWEEP_SECONDS=2, beat=True)
    release(1, admin=catalog_admin, reviewer=reviewer)
    # Restart while the worker is delivering the second batch: it finds the connection gone
    # when the batch ends and reconnects. (A worker idle in its blocking read while Redis
    # restarts can miss the loss and stop consuming, a kombu behaviour: see RELIABILITY.md.)
    wait_for(lambda: len(receiver.received) >= 50, timeout=30, what="the second batch to be in flight")

    private_broker.restart()  # every queued batch message is gone
    restarted_at = len(receiver.received)

    wait_for(
        lambda: not NoticeDelivery.objects.filter(state="pending").exists(), timeout=45, what="every delivery to be delivered or failed"
    )
    assert restarted_at < HOSPITALS, "the restart should land mid fan-out"
    assert NoticeDelivery.objects.filter(state="delivered").count() == HOSPITALS
    assert receiver.ok_ids() >= set(ChangeNotice.objects.values_list("webhook_id", flat=True))
