"""A real Celery worker runs provincial pooling: a figures file and a risk-adjustment run are
queued as jobs, and a reconciliation run's clearing leads the worker to propose an advance top-up
(pooling.after_clearing, queued by the clearing's commit)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.benefits.models import Province
from apps.core.models import Job
from apps.pooling import services
from apps.pooling.models import AdjustmentRule, AdjustmentRun, Transfer
from apps.reconciliation import services as reconciliation
from tests.factories import staff
from tests.integration.conftest import wait_for
from tests.reconciliation.conftest import PERIOD, SC, SH, row
from tests.reconciliation.conftest import recon_default_plan as recon  # noqa: F401 - fixture

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WORKER = {"MEDIA_ROOT": str(settings.MEDIA_ROOT)}
FIGURES = (
    b"region_code,period,fund_income_fen,fund_expenditure_fen,active_insured,retirees\n"
    b"510100,2026-03,100000000,80000000,300000,100000\n"
    b"510300,2026-03,10000000,15000000,50000,60000\n"
)


def _finished(job_id: int) -> bool:
    return Job.objects.filter(pk=job_id, state__in=["succeeded", "failed"]).exists()


def test_worker_imports_figures_runs_the_adjustment_and_tops_up_the_advance_after_a_clearing(
    broker: str,
    start_worker: Any,
    recon: Any,  # noqa: F811
) -> None:
    start_worker(**WORKER)
    sichuan = Province.objects.get(code=SC)
    maker = staff("finance_maker", SC, username="sc-maker")
    checker = staff("finance_checker", SC, username="sc-checker")
    AdjustmentRule.objects.create(province=sichuan, contribution_share=Decimal("0.05"), effective_from=dt.date(2026, 1, 1))

    job = services.figures_import_enqueue(upload=SimpleUploadedFile("figures.csv", FIGURES), user=maker)
    wait_for(lambda: _finished(job.pk), timeout=30, what="the figures import job")
    job.refresh_from_db()
    assert (job.state, job.result["created"]) == ("succeeded", 2)

    job = services.adjustment_request(period="2026-03", province_code=SC, user=maker)
    wait_for(lambda: _finished(job.pk), timeout=30, what="the adjustment run job")
    job.refresh_from_db()
    run = AdjustmentRun.objects.get(province=sichuan, period="2026-03")
    assert (job.state, job.result["run"], len(run.transfer_ids)) == ("succeeded", run.pk, 4)

    services.advance_policy_set(province=sichuan, threshold_fen=10_000, target_fen=50_000, user=checker)
    recon.both(row("S1", home=SC, dest=SH, fund=7000))
    job = reconciliation.reconciliation_request(period=PERIOD, user=recon.maker)
    wait_for(lambda: _finished(job.pk), timeout=30, what="the reconciliation run job")
    wait_for(
        lambda: Transfer.objects.filter(idempotency_key__startswith=f"advance-topup:{SC}:").exists(),
        timeout=30,
        what="the advance top-up proposed by pooling.after_clearing",
    )
    topup = Transfer.objects.get(idempotency_key__startswith=f"advance-topup:{SC}:")
    assert (topup.to_account.kind, topup.amount_fen, topup.state) == ("advance", 50_000 + 7000, "proposed")
