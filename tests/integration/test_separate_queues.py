"""Notices, bulk jobs and everything else travel on queues of their own, each served by its own
workers: a month close occupying the bulk worker does not delay a notice (two real worker
processes, a real receiver)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.conf import settings

from apps.core.models import Job
from apps.notices.models import NoticeDelivery
from apps.reconciliation import services as reconciliation
from tests.integration.conftest import _database_url, wait_for
from tests.notices.notice_helpers import hospital, release, with_endpoint
from tests.reconciliation.conftest import PERIOD
from tests.reconciliation.conftest import recon_default_plan as recon  # noqa: F401 - fixture

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_routes_put_notices_bulk_jobs_and_the_rest_on_their_own_queues() -> None:
    from celery import current_app

    router = current_app.amqp.router
    queue_of = {name: router.route({}, name)["queue"].name for name in ("notices.deliver_batch", "notices.deliver_due", "core.run_job")}
    for name in ("core.jobs_recover", "catalog.items_finish", "catalog.items_finish_due"):
        queue_of[name] = router.route({}, name)["queue"].name
    assert queue_of == {
        "notices.deliver_batch": "notices",
        "notices.deliver_due": "notices",
        "core.run_job": "bulk",
        "core.jobs_recover": "default",
        "catalog.items_finish": "bulk",  # a draft's indexes after a bulk load, and the sweep for a lost one
        "catalog.items_finish_due": "bulk",
    }
    assert {entry["task"] for entry in current_app.conf.beat_schedule.values()} >= {"catalog.items_finish_due", "core.jobs_recover"}


def test_a_running_month_close_does_not_delay_a_notice(
    start_worker: Any,
    receiver: Any,
    recon: Any,  # noqa: F811
    catalog_admin: Any,
    reviewer: Any,
) -> None:
    # The month close waits on its period lock, held here: it runs on the bulk worker until released.
    held = psycopg.connect(_database_url(), autocommit=True)
    try:
        held.execute("SELECT pg_advisory_lock(hashtext(%s))", [f"reconciliation:{PERIOD}"])
        start_worker(queues=("bulk",), MEDIA_ROOT=str(settings.MEDIA_ROOT))
        start_worker(queues=("notices",))
        run_job = reconciliation.reconciliation_request(period=PERIOD, user=recon.maker)
        wait_for(lambda: Job.objects.filter(pk=run_job.pk, state="running").exists(), timeout=30, what="the month close to start")

        h = hospital(1)
        _, secret = with_endpoint(h, receiver.url("hook/one"))
        receiver.expect("hook/one", secret)
        release(1, admin=catalog_admin, reviewer=reviewer)
        wait_for(lambda: NoticeDelivery.objects.filter(state="delivered").exists(), timeout=20, what="the notice to be delivered")

        assert len(receiver.ok_ids()) == 1
        assert Job.objects.get(pk=run_job.pk).state == "running", "the month close was still running while the notice went out"
    finally:
        held.close()  # releases the period lock: the month close goes on
    wait_for(lambda: Job.objects.filter(pk=run_job.pk, state__in=["succeeded", "failed"]).exists(), timeout=60, what="the month close")
    assert Job.objects.get(pk=run_job.pk).state == "succeeded"


def test_a_bulk_worker_sweeps_for_lost_catalog_work_when_it_starts(start_worker: Any, catalog_admin: Any, reviewer: Any) -> None:
    """The worker_ready hook: a release published while its search task was lost and a draft
    whose finishing task was lost are both done by a bulk worker that just started (no beat)."""
    import io

    from celery import current_app

    from apps.catalog import search
    from apps.catalog.importers.services import release_import
    from apps.catalog.signals import release_published
    from tests.catalog.test_item_partitions import CSV, INDEXES, indexes
    from tests.catalog.test_search import ITEMS, JAN_2026
    from tests.factories import draft_release, publish

    release_published.disconnect(dispatch_uid="catalog-search-index")  # the search task is lost
    try:
        published = publish(
            draft_release(label="2026.01", effective_from=JAN_2026, user=catalog_admin, items=ITEMS), admin=catalog_admin, reviewer=reviewer
        )
    finally:
        release_published.connect(search.index_after_publish, dispatch_uid="catalog-search-index")
    draft = draft_release(label="2026.02", effective_from=JAN_2026.replace(month=2), user=catalog_admin)
    release_import(release=draft, file=io.BytesIO(CSV), fmt="canonical-csv", user=catalog_admin)
    with current_app.connection_for_write() as connection:  # its catalog.items_finish is lost with the queue
        connection.default_channel.queue_purge("bulk")
    assert not search.release_is_indexed(release_id=published.pk) and indexes(draft) != INDEXES

    start_worker(queues=("bulk",))
    wait_for(lambda: search.release_is_indexed(release_id=published.pk), timeout=60, what="the search sweep at the worker's start")
    wait_for(lambda: indexes(draft) == INDEXES, timeout=60, what="the finishing sweep at the worker's start")
