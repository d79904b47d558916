"""A real Celery worker runs a reconciliation period end to end: both sides' files are queued
as import jobs, then a run job matches, nets and proposes, reporting progress and a summary."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.core.models import Job
from apps.pooling.models import Transfer
from apps.reconciliation import services
from apps.reconciliation.models import Discrepancy, ReconciliationRun
from tests.integration.conftest import wait_for
from tests.reconciliation.conftest import GD, PERIOD, SC, SH, csv_bytes, row
from tests.reconciliation.conftest import recon_default_plan as recon  # noqa: F401 - fixture (the worker picks its own plan)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WORKER = {"MEDIA_ROOT": str(settings.MEDIA_ROOT)}


def _finished(job_id: int) -> bool:
    return Job.objects.filter(pk=job_id, state__in=["succeeded", "failed"]).exists()


def _import(side: str, *rows: str, user: Any) -> Job:
    upload = SimpleUploadedFile(f"{side}.csv", csv_bytes(*rows))
    return services.settlement_import_enqueue(period=PERIOD, side=side, upload=upload, user=user)


def test_worker_imports_both_sides_and_runs_the_period_to_discrepancies_and_proposals(
    broker: str,
    start_worker: Any,
    recon: Any,  # noqa: F811
) -> None:
    start_worker(**WORKER)
    imports = [
        _import("home", row("M1", fund=7000), row("M2", home=GD, dest=SH, fund=2000), row("X1", fund=4000), row("H1"), user=recon.maker),
        _import(
            "destination",
            row("M1", fund=7000),
            row("M2", home=GD, dest=SH, fund=2000),
            row("X1", fund=4500),
            row("D1"),
            row("M2", home=GD, dest=SH, fund=2000),
            user=recon.maker,
        ),
    ]
    for job in imports:
        wait_for(lambda job=job: _finished(job.pk), timeout=30, what=f"import job {job.pk}")
    assert [Job.objects.get(pk=j.pk).state for j in imports] == ["succeeded", "succeeded"]

    run_job = services.reconciliation_request(period=PERIOD, user=recon.maker)
    wait_for(lambda: _finished(run_job.pk), timeout=30, what="the run job")
    run_job.refresh_from_db()
    run = ReconciliationRun.objects.get()
    assert (run_job.state, run_job.result["run"], run.state, run_job.done, run_job.total) == ("succeeded", run.pk, "succeeded", 3, 3)
    assert run.summary["counts"] == {
        "matched": 1,
        "amount_mismatch": 2,
        "missing_home": 1,
        "missing_destination": 1,
        "duplicate": 1,
        "release_not_in_force": 0,
        "already_settled": 0,  # no claim of the month was settled by a decision before this run
    }
    assert Discrepancy.objects.filter(run=run).count() == 5
    transfer = Transfer.objects.get()
    assert (transfer.from_account.province_code, transfer.to_account.province_code, transfer.amount_fen, transfer.state) == (
        SC,
        SH,
        7000,
        "proposed",
    )
    assert run.summary["net_positions"] == {SC: -7000, SH: 7000}
