"""Bulk import of a file into a draft release: the only write path for whole code lists.

The file is streamed into a temporary staging table with COPY, validated set-based in SQL and
merged into the draft in one transaction: all-or-nothing. A file with any bad row changes
nothing and the error lists every bad row (line, column, code, message), capped at
``ERRORS_LISTED`` with a count of the rest. History rows for the merged items are written
set-based. Re-importing the same file into the same draft changes nothing and writes no
history (rows equal to the draft's are skipped).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath
from typing import IO, Any

from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.core.audit import audit_record
from apps.core.bulk import BulkFileRejected, JobProgress, collect_errors
from apps.core.errors import ValidationFailed
from apps.core.jobs import job_enqueue, job_progress
from apps.core.models import AuditAction, Job
from apps.core.permissions import CATALOG_EDITORS, require_role

from .. import search
from .. import sql as catalog_sql
from ..models import CatalogRelease, ReleaseParticipant
from ..services import ensure_draft, items_record_history, took_part
from . import sql
from .formats import CANONICAL_CSV, FORMATS, NHSA_CONSUMABLES_CSV, READERS, Source

MODES = ("merge", "replace")
JOB_KIND = "catalog.import"


def _check_options(fmt: str, mode: str) -> None:
    errors = []
    if fmt not in FORMATS:
        errors.append({"field": "format", "code": "invalid", "message": f"format must be one of {', '.join(FORMATS)}"})
    if mode not in MODES:
        errors.append({"field": "mode", "code": "invalid", "message": "mode must be merge or replace"})
    if errors:
        raise ValidationFailed(_("bad import options"), errors=errors)


def _csv_records(file: IO[bytes], fmt: str) -> int | None:
    """Records of a CSV file (lines after the header; a quoted field spanning lines counts
    more than one), for progress in rows; None for the formats whose size shows only as
    they are read (XLSX says its own, JSON never does)."""
    if fmt not in (CANONICAL_CSV, NHSA_CONSUMABLES_CSV):
        return None
    try:
        position = file.tell()
        lines, last = 0, b""
        while chunk := file.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk
        file.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return max(lines + (1 if last and not last.endswith(b"\n") else 0) - 1, 0)


def release_import(
    *,
    release: CatalogRelease,
    file: IO[bytes],
    fmt: str,
    user: Any,
    mode: str = "merge",
    job: Job | None = None,
    on_progress: Callable[[int], None] | None = None,
    filename: str = "",
) -> dict[str, Any]:
    """Import ``file`` (format ``fmt``) into the draft ``release``; returns counts
    ``{rows, added, changed, removed, unchanged, format, mode, encoding}``.

    ``mode='merge'`` upserts by code; ``'replace'`` makes the draft exactly the file.
    Raises Conflict ``release_not_draft``, Forbidden (role), ValidationFailed (options) and
    BulkFileRejected (code ``import_rejected``) with the row errors; nothing changes then.
    ``user`` None means an operator at the shell (``import_catalog`` without ``--user``).
    """
    return _import(
        release=release, file=file, fmt=fmt, user=user, mode=mode, job=job, on_progress=on_progress, filename=filename, record_history=True
    )


def _import(
    *,
    release: CatalogRelease,
    file: IO[bytes],
    fmt: str,
    user: Any,
    mode: str,
    job: Job | None,
    on_progress: Callable[[int], None] | None,
    filename: str,
    record_history: bool,
) -> dict[str, Any]:
    _check_options(fmt, mode)
    if user is not None:
        require_role(user, *CATALOG_EDITORS)
    progress = JobProgress(job.pk if job else None, total=_csv_records(file, fmt))
    if on_progress is not None:
        progress.listeners.append(on_progress)
    reason = f"import {fmt} {PurePath(filename).name}".strip()
    try:
        with transaction.atomic():
            CatalogRelease.objects.select_for_update().filter(pk=release.pk).values_list("pk").get()
            release.refresh_from_db()
            ensure_draft(release)
            # Rolled back with the import if the file is refused: only a file that went in counts.
            took_part(release=release, user=user, part=ReleaseParticipant.Part.IMPORTED)
            with connection.cursor() as cursor:
                # JIT compilation of these wide expressions costs more (~1 s a query) than it saves.
                cursor.execute("SET LOCAL work_mem = '256MB'")
                cursor.execute("SET LOCAL jit = off")
            source = READERS[fmt](file, progress)
            counts = _write(release, source, mode=mode, user=user, reason=reason, record_history=record_history)
            rows = source.staging.rows
            progress.total = rows
            progress(rows, force=True)
            result = {
                "rows": rows,
                **counts,
                "unchanged": rows - counts["added"] - counts["changed"],
                "format": fmt,
                "mode": mode,
                "encoding": source.encoding,
            }
            audit_record(
                action=AuditAction.RELEASE_IMPORTED, actor=user, obj=release, reason=reason, detail={**result, "filename": filename}
            )
            return result
    finally:
        progress.close()


def _write(release: CatalogRelease, source: Source, *, mode: str, user: Any, reason: str, record_history: bool) -> dict[str, int]:
    """The staged file into the draft, with history rows; the counts. Raises BulkFileRejected."""
    # Into a draft without items every row is new: nothing to compare or merge with, and a file
    # without problems goes straight from staging into it.
    fresh = catalog_sql.items_empty(release.pk)
    if fresh and sql.load_fresh(release_id=release.pk, source=source):
        counts = sql.merge(release_id=release.pk, mode=mode, source=source, fresh=True)
        loaded_unindexed = True
    else:
        sql.build_items(source)
        queries, params = sql.checks(source, release_id=release.pk, mode=mode)
        errors, error_count = collect_errors(queries, params)
        if error_count:
            raise BulkFileRejected(
                format_lazy(_("{error_count} problem(s) in the file; nothing was imported"), error_count=error_count),
                errors=errors,
                error_count=error_count,
            )
        counts = sql.merge(release_id=release.pk, mode=mode, source=source, fresh=fresh)
        if record_history and counts["removed"]:
            _history(release, "-", user, reason)
        loaded_unindexed = sql.apply_changes(release_id=release.pk, source=source, fresh=fresh)
    if not loaded_unindexed:
        # New names reach the search dictionary (and get their pinyin) now, not per query (after
        # a load unindexed, the bulk worker's items_finish adds them).
        search.terms_fill(release_id=release.pk)
    if record_history:
        for change in ("+", "~"):
            if counts["added" if change == "+" else "changed"]:
                _history(release, change, user, reason, every_item=fresh)
    return counts


def _history(release: CatalogRelease, change: str, user: Any, reason: str, *, every_item: bool = False) -> None:
    """History rows of the items the import changed this way (``import_changes``); of every item
    of the draft after a load into an empty one (``every_item``)."""
    items_record_history(
        release=release,
        codes_sql=None if every_item else "SELECT code FROM import_changes WHERE change = %s",
        params=[] if every_item else [change],
        user=user,
        history_type=change,
        reason=reason,
    )


def import_enqueue(*, release: CatalogRelease, upload: Any, fmt: str, user: Any, mode: str = "merge") -> Job:
    """Store an uploaded file and queue its import as a job (the API and admin use this).

    Refuses at request time: 409 ``release_not_draft``, 403 for roles that cannot edit,
    400 for an unknown format or mode. The job runs after this transaction commits.
    """
    require_role(user, *CATALOG_EDITORS)
    ensure_draft(release)
    _check_options(fmt, mode)
    return job_enqueue(
        kind=JOB_KIND, user=user, params={"release": release.label, "format": fmt, "mode": mode, "unit": "rows"}, upload=upload
    )


def import_job_handler(job: Job) -> dict[str, Any]:
    """Run a queued import job (see ``core.jobs.job_run``): progress counts the file's rows
    (records), with a total where the format tells it in advance (CSV, XLSX).
    Re-running an import of the same file changes nothing."""
    params = job.params
    release = CatalogRelease.objects.filter(label=params["release"]).first()
    if release is None:
        raise ValidationFailed(format_lazy(_("release {release} no longer exists"), release=params["release"]))
    job_progress(job=job, done=0)
    with default_storage.open(params["path"], "rb") as file:
        result = release_import(
            release=release,
            file=file,
            fmt=params["format"],
            mode=params["mode"],
            user=job.created_by,
            job=job,
            filename=params["filename"],
        )
    # The final count through the job's own connection too (the progress connection cannot
    # see a job row its caller has not committed yet, as in a request run eagerly).
    job_progress(job=job, done=result["rows"], total=result["rows"])
    return result
