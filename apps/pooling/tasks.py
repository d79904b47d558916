"""Celery tasks of pooling: thin wrappers around services (runs go through core.run_job)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="pooling.after_clearing", acks_late=True, ignore_result=True)
def after_clearing(period: str) -> dict[str, Any]:
    """Queued when a monthly clearing is recorded: advance top-ups and budget alerts."""
    return services.after_clearing(period=period)


@shared_task(name="pooling.adjustment_previous_month", acks_late=True, ignore_result=True)
def adjustment_previous_month() -> list[int]:
    """Beat entry (10th of each month): queue the previous month's risk-adjustment runs."""
    return [job.pk for job in services.adjustment_schedule(period=services.previous_period(timezone.localdate()))]


@shared_task(name="pooling.daily_checks", acks_late=True, ignore_result=True)
def daily_checks() -> dict[str, Any]:
    """Beat entry (daily): the same follow-ups as after a clearing, in case that hook was missed
    (a worker died between the run's commit and the task) or a manual transfer drew an advance."""
    return services.after_clearing()


@shared_task(name="pooling.ledger_partitions_ensure", acks_late=True, ignore_result=True)
def ledger_partitions_ensure() -> list[str]:
    """Beat entry (daily): this month's and next month's ledger partitions exist before any posting needs them."""
    return services.ledger_partitions_ensure()
