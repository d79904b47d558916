"""kill -9 of the Celery worker in the middle of a catalog import and of a reconciliation run,
then a new worker: the job ends succeeded (the acks_late message is redelivered and the job
re-runs idempotently), and the data is all there or none of it, never half.

Each kill lands at a deterministic point: a gate (a table lock held from a second connection)
stops the worker's transaction after its first writes, while the worker waits on PostgreSQL.
(The notice fan-out kill is tests/integration/test_notice_delivery.py.)"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.catalog.demo import canonical_csv
from apps.catalog.importers.services import import_enqueue
from apps.catalog.models import CatalogItem
from apps.core.models import Job
from apps.pooling.models import Transfer
from apps.reconciliation import services as reconciliation
from apps.reconciliation.models import Discrepancy, ReconciliationRun
from tests.factories import draft_release
from tests.reconciliation.conftest import PERIOD, SC, SH, row
from tests.reconciliation.conftest import recon_default_plan as recon  # noqa: F401 - fixture (the worker picks its own plan)
from tests.reliability.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROWS = 3000
# A short visibility timeout: the message the killed worker held comes back within seconds.
WORKER = {"CELERY_VISIBILITY_TIMEOUT": "3", "MEDIA_ROOT": str(settings.MEDIA_ROOT)}


def _state(job_id: int) -> str:
    return str(Job.objects.values_list("state", flat=True).get(pk=job_id))


def _killed_at_the_gate(gate_: Any, worker: Any, job_id: int) -> None:
    """Wait for the worker's transaction to reach the gate, kill -9 the worker, open the gate and
    wait until PostgreSQL has ended the orphaned session (its transaction rolls back)."""
    pid = gate_.wait_for_waiter()
    assert _state(job_id) == "running"
    worker.kill()
    gate_.open()
    wait_for(lambda: gate_.backend_gone(pid), timeout=15, what="the killed worker's session to end")


def test_import_killed_mid_transaction_ends_succeeded_with_every_row_once(broker, start_worker, gate, catalog_admin):
    draft = draft_release(label="2026.01-kill", effective_from=dt.date(2026, 1, 1), user=catalog_admin)
    # items merged and their history rows written into a table of their own, not yet attached
    history_gate = gate("catalog_historicalcatalogitem", "lock")
    worker = start_worker(**WORKER)
    upload = SimpleUploadedFile("big.csv", canonical_csv(ROWS, seed=1111))
    job = import_enqueue(release=draft, upload=upload, fmt="canonical-csv", user=catalog_admin)

    _killed_at_the_gate(history_gate, worker, job.pk)
    assert (CatalogItem.objects.filter(release=draft).count(), _state(job.pk)) == (0, "running")

    start_worker(**WORKER)
    wait_for(lambda: _state(job.pk) in ("succeeded", "failed"), timeout=40, what="the redelivered import to finish")
    job.refresh_from_db()
    assert (job.state, job.result["added"]) == ("succeeded", ROWS)
    assert CatalogItem.objects.filter(release=draft).count() == ROWS
    assert CatalogItem.history.filter(release_id=draft.pk).count() == ROWS  # one history row per item, none from the dead run


def test_reconciliation_killed_mid_run_ends_succeeded_with_one_run_and_its_proposal(
    broker,
    start_worker,
    gate,
    recon,  # noqa: F811
):
    recon.both(row("S1", home=SC, dest=SH, fund=7000), row("S2", home=SC, dest=SH, fund=3000))
    proposals_gate = gate("pooling_transfer", "lock")  # run and discrepancies written, proposal not yet
    worker = start_worker(**WORKER)
    job = reconciliation.reconciliation_request(period=PERIOD, user=recon.maker)

    _killed_at_the_gate(proposals_gate, worker, job.pk)
    assert (ReconciliationRun.objects.count(), Transfer.objects.count(), _state(job.pk)) == (0, 0, "running")

    start_worker(**WORKER)
    wait_for(lambda: _state(job.pk) in ("succeeded", "failed"), timeout=40, what="the redelivered run to finish")
    job.refresh_from_db()
    run = ReconciliationRun.objects.get()
    assert (job.state, job.result["run"], run.state) == ("succeeded", run.pk, "succeeded")
    transfer = Transfer.objects.get()
    assert (transfer.amount_fen, transfer.state, run.transfer_ids) == (10000, "proposed", [transfer.pk])
    assert not Discrepancy.objects.exclude(run=run).exists()
