"""One pipeline for long jobs (catalog imports, settlement imports, reconciliation runs, reference
imports): ``job_enqueue`` stores the upload and queues the job after commit; ``job_run`` (the one
Celery task ``core.run_job``) owns start, progress, failure, success and clean-up, and dispatches
to the handler each app registers for its job kind in ``AppConfig.ready``.

The Job row is what admin, the staff job page and ``GET /api/v1/jobs/{id}/`` show. Updates use
their own short writes so progress is visible while the handler's transaction is still open.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .errors import DomainError, in_languages
from .models import Job
from .permissions import bound_province, has_role
from .principals import is_hospital
from .roles import Role

log = logging.getLogger(__name__)

ERRORS_LISTED = 1000  # a bad file lists this many errors and counts the rest
RUN_JOB_TASK = "core.run_job"


@dataclass(frozen=True)
class JobView:
    """What one user may see of a job's outcome."""

    result: dict[str, Any]
    errors: list[dict[str, Any]]


# reader(job=..., user=...) -> JobView; raises Forbidden when the user may not read the job at all.
JobReader = Callable[..., JobView]


@dataclass(frozen=True)
class JobKind:
    """What runs a kind of job. ``handler(job)`` does the work and returns the job's result; it
    raises ``BulkFileRejected`` (row errors) or another ``DomainError`` to fail the job with a
    reason people can act on. ``queue`` is the Celery queue (None: the default route).

    ``reader`` says what a user may see of a job of this kind (default: everything);
    ``provinces_see_national``: national jobs of this kind are shown to province-bound users, cut
    down by ``reader`` (a reconciliation run, shown as the pairs of her province)."""

    name: str
    handler: Callable[[Job], dict[str, Any]]
    queue: str | None = None
    reader: JobReader | None = None
    provinces_see_national: bool = False


JOB_KINDS: dict[str, JobKind] = {}


def register_job_kind(
    *,
    kind: str,
    handler: Callable[[Job], dict[str, Any]],
    queue: str | None = None,
    reader: JobReader | None = None,
    provinces_see_national: bool = False,
) -> None:
    """Declare the handler of jobs of ``kind`` (apps call this in ``AppConfig.ready``), and how
    they are shown (see ``JobKind``)."""
    JOB_KINDS[kind] = JobKind(name=kind, handler=handler, queue=queue, reader=reader, provinces_see_national=provinces_see_national)


# --- queueing ----------------------------------------------------------------------------------


def job_create(*, kind: str, user: Any = None, params: dict[str, Any] | None = None, total: int | None = None) -> Job:
    return Job.objects.create(kind=kind, created_by=user if getattr(user, "pk", None) else None, params=params or {}, total=total)


def _send(job_id: int, kind: str) -> None:
    from celery import current_app

    job_kind = JOB_KINDS.get(kind)
    options = {"queue": job_kind.queue} if job_kind is not None and job_kind.queue else {}
    # The task object (not send_task) so that eager settings run it in-process in the demo.
    current_app.tasks[RUN_JOB_TASK].apply_async(args=[job_id], **options)


def job_enqueue(
    *, kind: str, user: Any, params: dict[str, Any] | None = None, upload: Any = None, total: int | None = None, province: str = ""
) -> Job:
    """Create a queued job of ``kind`` and run it after the caller's transaction commits.

    With ``upload`` (a file object), the file is stored first and its storage path and name are
    the job's ``path`` and ``filename`` params; ``job_run`` deletes it when the job ends.
    ``province`` names the province whose data the job reads or writes ('' national): the job
    endpoint and pages show a province-bound user only jobs of her own province (see
    ``jobs_visible_to``). It is always recorded, so a job without it is nobody's province."""
    if kind not in JOB_KINDS:
        raise ValueError(f"no handler registered for job kind {kind!r}")
    params = {**(params or {}), "province": province}
    with transaction.atomic():
        if upload is not None:
            name = PurePath(getattr(upload, "name", "") or "upload").name
            params["path"] = default_storage.save(f"jobs/{kind}/{uuid.uuid4().hex}/{name}", upload)
            params["filename"] = name
        job = job_create(kind=kind, user=user, params=params, total=total)
        job_id = job.pk
        transaction.on_commit(lambda: _send(job_id, kind))
    return job


# --- who sees what ----------------------------------------------------------------------------------


def jobs_visible_to(*, user: Any) -> QuerySet[Job]:
    """The jobs a user may open (API, staff job page, admin): staff only; a province-bound user
    sees the jobs of her province and the national jobs of kinds that say how to cut them down
    for her (``provinces_see_national``); national users see every job. What each may see of a
    job's result is ``job_view``'s answer. A hospital follows the jobs it queued itself (a
    mapping upload) and no others."""
    if is_hospital(user):
        return Job.objects.filter(params__hospital_id=user.hospital_id)
    if not has_role(user, *Role.values):
        return Job.objects.none()
    province = bound_province(user)
    if not province:
        return Job.objects.all()
    shared = sorted(name for name, kind in JOB_KINDS.items() if kind.provinces_see_national)
    return Job.objects.filter(Q(params__province=province) | Q(params__province="", kind__in=shared))


def job_view(*, job: Job, user: Any) -> JobView:
    """The result and errors of ``job`` as ``user`` may see them: its kind's ``reader`` decides
    (it may cut a national result down to her province, or raise Forbidden), else everything."""
    kind = JOB_KINDS.get(job.kind)
    if kind is not None and kind.reader is not None:
        return kind.reader(job=job, user=user)
    return JobView(result=job.result, errors=job.errors)


# --- progress ------------------------------------------------------------------------------------


def job_start(*, job: Job, total: int | None = None) -> None:
    Job.objects.filter(pk=job.pk).update(state=Job.State.RUNNING, started_at=timezone.now(), total=total)


def job_progress(*, job: Job, done: int, total: int | None = None) -> None:
    fields: dict[str, Any] = {"done": done}
    if total is not None:
        fields["total"] = total
    Job.objects.filter(pk=job.pk).update(**fields)


def job_succeed(*, job: Job, result: dict[str, Any]) -> None:
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.SUCCEEDED,
        result=result,
        finished_at=timezone.now(),
        done=models.Case(models.When(total__isnull=False, then=models.F("total")), default=models.F("done")),
    )


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


# --- running ---------------------------------------------------------------------------------------


def _job_error(code: str, message: Any) -> dict[str, Any]:
    return {"line": 0, "column": "", "code": code, **in_languages("message", message)}


def job_run(job_id: int) -> None:
    """Run queued job ``job_id`` through its kind's handler (the ``core.run_job`` task calls this).

    A job that finished, does not exist, or that a live worker holds is left alone (redelivered or
    re-queued messages). Row errors and domain errors fail the job with their codes; anything else
    fails it as ``internal_error`` and is raised again for the worker's log. The stored upload is
    deleted whatever the outcome."""
    from .bulk import BulkFileRejected

    with job_runner(job_id) as job:
        if job is None:
            return
        kind = JOB_KINDS.get(job.kind)
        try:
            job_start(job=job, total=job.total)
            if kind is None:
                job_fail(job=job, errors=[_job_error("unknown_job_kind", format_lazy(_("no handler for {kind}"), kind=job.kind))])
                return
            try:
                result = kind.handler(job)
            except BulkFileRejected as exc:
                job_fail(job=job, errors=exc.errors, error_count=exc.error_count, result=in_languages("detail", exc.message))
            except DomainError as exc:
                job_fail(job=job, errors=[_job_error(exc.code, exc.message)], result=in_languages("detail", exc.message))
            except Exception:
                log.exception("job %s (%s) failed", job.pk, job.kind)
                job_fail(job=job, errors=[_job_error("internal_error", _("the job failed unexpectedly"))])
                raise
            else:
                job_succeed(job=job, result=result)
        finally:
            path = job.params.get("path")
            if path and default_storage.exists(path):
                default_storage.delete(path)


# --- recovery of jobs whose worker died -------------------------------------------------------
#
# A worker runs a job while holding a session advisory lock (class JOB_LOCK_CLASS, id = job id)
# on its database connection. A worker killed mid-job (kill -9, OOM, lost machine) loses its
# connection and PostgreSQL frees the lock, while the Job row still says ``running``; its broker
# message only comes back after the Redis visibility timeout (hours) or never (a broker restart
# without persistence). ``jobs_recover`` (beat, and on worker start) finds such jobs from the
# locks alone and queues them again; the handlers are idempotent (a finished job is not re-run,
# a rerun of an import or a reconciliation run gives the same result), and the lock keeps two
# live workers from running the same job at once.

JOB_LOCK_CLASS = 7_311  # first key of the two-key advisory lock held by a job's runner
QUEUED_GRACE_SECONDS = 600  # a job queued longer than this (its message lost?) is sent again


@contextmanager
def job_runner(job_id: int) -> Iterator[Job | None]:
    """Yields the Job while holding its runner lock, or None when the job does not exist, has
    already finished, or another live worker holds the lock."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [JOB_LOCK_CLASS, job_id])
        locked = bool(cursor.fetchone()[0])
    if not locked:
        yield None
        return
    try:
        yield Job.objects.filter(pk=job_id).exclude(state__in=[Job.State.SUCCEEDED, Job.State.FAILED]).first()
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [JOB_LOCK_CLASS, job_id])
        except DatabaseError:  # the connection is gone, and the lock with it
            if not connection.in_atomic_block:
                connection.close()


def jobs_orphaned(*, queued_grace: float = QUEUED_GRACE_SECONDS) -> list[Job]:
    """Jobs that no live worker holds: ``running`` ones whose runner lock is free, and ``queued``
    ones waiting longer than ``queued_grace`` seconds since they were queued (or last re-sent)."""
    # Jobs first, locks second: a job seen running took its lock before it said so.
    candidates = list(Job.objects.filter(kind__in=list(JOB_KINDS), state__in=[Job.State.QUEUED, Job.State.RUNNING]).order_by("pk"))
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
    ids = []
    now = timezone.now()
    for job in jobs_orphaned(queued_grace=queued_grace):
        params = {**job.params, "requeued_at": now.isoformat(), "requeued": int(job.params.get("requeued", 0)) + 1}
        updated = Job.objects.filter(pk=job.pk, state=job.state).update(state=Job.State.QUEUED, params=params)
        if updated:
            _send(job.pk, job.kind)
            ids.append(job.pk)
    return ids
