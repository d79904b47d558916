"""Celery tasks of reconciliation: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from apps.core.models import Job

from . import services


@shared_task(name="reconciliation.run_period", acks_late=True)
def run_period(job_id: int) -> None:
    """Run the queued reconciliation job ``job_id`` (progress and summary are in the Job row)."""
    job = Job.objects.filter(pk=job_id).first()
    if job is not None:
        services.reconciliation_job_run(job=job)


@shared_task(name="reconciliation.run_previous_month", acks_late=True)
def run_previous_month() -> int:
    """Beat entry (5th of each month): queue and run the previous month; returns the job id."""
    job = services.reconciliation_request(period=services.previous_period(timezone.localdate()), user=None)
    return job.pk


@shared_task(name="reconciliation.import_settlements", acks_late=True)
def import_settlements(job_id: int) -> None:
    job = Job.objects.filter(pk=job_id).first()
    if job is not None:
        services.settlement_import_job_run(job=job)
