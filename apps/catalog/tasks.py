"""Celery tasks of the catalog: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task

from apps.core.jobs import job_runner, register_job_task

from .importers.services import JOB_KIND, import_job_run


@shared_task(name="catalog.import_release", acks_late=True)
def import_release(job_id: int) -> None:
    """Run the queued import job ``job_id`` (progress and errors are in the Job row). A job that
    finished, or that a live worker is running, is left alone (redelivered or re-queued messages)."""
    with job_runner(job_id) as job:
        if job is not None:
            import_job_run(job=job)


register_job_task(kind=JOB_KIND, task_name="catalog.import_release")
