"""Progress of long jobs (imports, reconciliation runs): the Job row is what admin and
``GET /api/v1/jobs/{id}/`` show. Updates use their own short writes so progress is visible
while the job's main transaction is still open (call them outside that transaction, or from
a second connection)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DatabaseError, connection, transaction
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


# --- recovery of jobs whose worker died -------------------------------------------------------
#
# A worker runs a job while holding a session advisory lock (class JOB_LOCK_CLASS, id = job id)
# on its database connection. A worker killed mid-job (kill -9, OOM, lost machine) loses its
# connection and PostgreSQL frees the lock, while the Job row still says ``running``; its broker
# message only comes back after the Redis visibility timeout (hours) or never (a broker restart
# without persistence). ``jobs_recover`` (beat, and on worker start) finds such jobs from the
# locks alone and queues them again; the job runners are idempotent (a finished job is not
# re-run, a rerun of an import or a reconciliation run gives the same result), and the lock
# keeps two live workers from running the same job at once.

JOB_LOCK_CLASS = 7_311  # first key of the two-key advisory lock held by a job's runner
JOB_TASKS: dict[str, str] = {}  # job kind -> name of the Celery task that runs it (job id as its one argument)
QUEUED_GRACE_SECONDS = 600  # a job queued longer than this (its message lost?) is sent again


def register_job_task(*, kind: str, task_name: str) -> None:
    """Declare which task runs jobs of ``kind`` (called by the apps' tasks modules)."""
    JOB_TASKS[kind] = task_name


@contextmanager
def job_runner(job_id: int) -> Iterator[Job | None]:
    """Run block of a job's task: yields the Job while holding its runner lock, or None when the
    job does not exist, has already finished, or another live worker holds the lock."""
    locked = False
    try:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [JOB_LOCK_CLASS, job_id])
                locked = bool(cursor.fetchone()[0])
            if not locked:
                yield None
                return
        job = Job.objects.filter(pk=job_id).exclude(state__in=[Job.State.SUCCEEDED, Job.State.FAILED]).first()
        yield job
    finally:
        if locked:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [JOB_LOCK_CLASS, job_id])
            except DatabaseError:  # the connection is gone, and the lock with it
                if not connection.in_atomic_block:
                    connection.close()


def jobs_orphaned(*, queued_grace: float = QUEUED_GRACE_SECONDS) -> list[Job]:
    """Jobs that no live worker holds: ``running`` ones whose runner lock is free, and ``queued``
    ones waiting longer than ``queued_grace`` seconds since they were queued (or last re-sent)."""
    if connection.vendor != "postgresql":
        return []
    from celery import current_app

    current_app.loader.import_default_modules()  # the apps' tasks modules fill JOB_TASKS
    # Jobs first, locks second: a job seen running took its lock before it said so.
    candidates = list(Job.objects.filter(kind__in=list(JOB_TASKS), state__in=[Job.State.QUEUED, Job.State.RUNNING]).order_by("pk"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objsubid = 2 AND granted",
            [JOB_LOCK_CLASS],
        )
        held = {int(r[0]) for r in cursor.fetchall()}
    cutoff = timezone.now() - dt.timedelta(seconds=queued_grace)
    out = []
    for job in candidates:
        if job.pk in held:
            continue
        if job.state == Job.State.QUEUED:
            sent = job.params.get("requeued_at")
            last = dt.datetime.fromisoformat(sent) if sent else job.created_at
            if last > cutoff:
                continue
        out.append(job)
    return out


def jobs_recover(*, queued_grace: float = QUEUED_GRACE_SECONDS) -> list[int]:
    """Queue again every orphaned job (see ``jobs_orphaned``); returns their ids. A running job
    becomes ``queued`` again; each job notes ``requeued_at`` and ``requeued`` (a count) in params."""
    from celery import current_app

    ids = []
    now = timezone.now()
    for job in jobs_orphaned(queued_grace=queued_grace):
        params = {**job.params, "requeued_at": now.isoformat(), "requeued": int(job.params.get("requeued", 0)) + 1}
        updated = Job.objects.filter(pk=job.pk, state=job.state).update(state=Job.State.QUEUED, params=params)
        if updated:
            current_app.send_task(JOB_TASKS[job.kind], args=[job.pk])
            ids.append(job.pk)
    return ids
