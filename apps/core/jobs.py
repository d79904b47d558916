"""Progress of long jobs (imports, reconciliation runs): the Job row is what admin and
``GET /api/v1/jobs/{id}/`` show. Updates use their own short writes so progress is visible
while the job's main transaction is still open (call them outside that transaction, or from
a second connection)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from .models import Job

ERRORS_LISTED = 1000  # a bad file lists this many errors and counts the rest


def job_create(*, kind: str, user: Any = None, params: dict[str, Any] | None = None, total: int | None = None) -> Job:
    return Job.objects.create(kind=kind, created_by=user if getattr(user, "pk", None) else None, params=params or {}, total=total)


def job_start(*, job: Job, total: int | None = None) -> None:
    Job.objects.filter(pk=job.pk).update(state=Job.State.RUNNING, started_at=timezone.now(), total=total)


def job_progress(*, job: Job, done: int, total: int | None = None) -> None:
    fields: dict[str, Any] = {"done": done}
    if total is not None:
        fields["total"] = total
    Job.objects.filter(pk=job.pk).update(**fields)


def job_succeed(*, job: Job, result: dict[str, Any]) -> None:
    Job.objects.filter(pk=job.pk).update(state=Job.State.SUCCEEDED, result=result, finished_at=timezone.now())


def job_fail(*, job: Job, errors: list[dict[str, Any]], error_count: int | None = None, result: dict[str, Any] | None = None) -> None:
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.FAILED,
        errors=errors[:ERRORS_LISTED],
        error_count=len(errors) if error_count is None else error_count,
        result=result or {},
        finished_at=timezone.now(),
    )


def in_transaction() -> bool:
    return not transaction.get_autocommit()
