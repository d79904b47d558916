"""Celery tasks of reconciliation: thin wrappers around services (jobs run through core.run_job)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from apps.pooling.services import previous_period

from . import services


@shared_task(name="reconciliation.run_previous_month", acks_late=True)
def run_previous_month() -> int:
    """Beat entry (5th of each month): queue and run the previous month; returns the job id."""
    job = services.reconciliation_request(period=previous_period(timezone.localdate()), user=None)
    return job.pk


@shared_task(name="reconciliation.settlement_partitions_ensure", acks_late=True, ignore_result=True)
def settlement_partitions_ensure() -> list[str]:
    """Beat entry (daily): this period's and the next period's settlement partitions exist before an import needs them."""
    return services.settlement_partitions_ensure()
