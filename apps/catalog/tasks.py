"""Celery tasks of the catalog: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task

from apps.core.models import Job

from .importers.services import import_job_run


@shared_task(name="catalog.import_release", acks_late=True)
def import_release(job_id: int) -> None:
    """Run the queued import job ``job_id`` (progress and errors are in the Job row)."""
    job = Job.objects.filter(pk=job_id).first()
    if job is not None:
        import_job_run(job=job)
