"""Celery tasks of core: the one job runner, and the sweep that re-queues jobs whose worker died (see jobs.py)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_ready

from .jobs import RUN_JOB_TASK, job_run, jobs_recover
from .mail import email_send_due


@shared_task(name=RUN_JOB_TASK, acks_late=True, ignore_result=True)
def run_job(job_id: int) -> None:
    """Run one queued job (import, reconciliation run, ...) through its registered handler."""
    job_run(job_id)


@shared_task(name="core.jobs_recover", acks_late=True, ignore_result=True)
def recover_jobs() -> list[int]:
    """Beat entry (every minute) and on worker start: queue again the jobs no live worker runs."""
    return jobs_recover()


@shared_task(name="core.send_due_email", acks_late=True, ignore_result=True)
def send_due_email() -> int:
    """After a notice is queued, and on beat: send the outbox's due email."""
    return email_send_due()


@worker_ready.connect
def _recover_on_start(sender: Any = None, **kwargs: Any) -> None:
    # A restarted worker picks up the jobs a killed one was running.
    recover_jobs.apply_async(countdown=1.0)
