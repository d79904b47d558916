"""Celery tasks of reconciliation: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from apps.core.jobs import job_runner, register_job_task

from . import services


@shared_task(name="reconciliation.run_period", acks_late=True)
def run_period(job_id: int) -> None:
    """Run the queued reconciliation job ``job_id`` (progress and summary are in the Job row);
    a finished job, or one a live worker is running, is left alone."""
    with job_runner(job_id) as job:
        if job is not None:
            services.reconciliation_job_run(job=job)


@shared_task(name="reconciliation.run_previous_month", acks_late=True)
def run_previous_month() -> int:
    """Beat entry (5th of each month): queue and run the previous month; returns the job id."""
    job = services.reconciliation_request(period=services.previous_period(timezone.localdate()), user=None)
    return job.pk


@shared_task(name="reconciliation.import_settlements", acks_late=True)
def import_settlements(job_id: int) -> None:
    with job_runner(job_id) as job:
        if job is not None:
            services.settlement_import_job_run(job=job)


register_job_task(kind=services.RUN_JOB, task_name="reconciliation.run_period")
register_job_task(kind=services.IMPORT_JOB, task_name="reconciliation.import_settlements")
