"""Writes on hospital code mappings (对码): a hospital replaces its whole mapping set with an
uploaded file (a job: all-or-nothing, every bad row reported), and the checks that count how
many mappings a published release breaks, per hospital, set-based.

Upload rules (CSV with a header ``local_code,local_name,national_code`` in any order,
``local_name`` optional; or a JSON list of objects with those keys; ``line`` is the physical
line, or the record index from 1 for JSON):

- ``local_code``: required (``missing_field``), at most 64 characters (``too_long``), no control
  characters (``invalid``), once per file (``duplicate_code`` on the later line);
- ``national_code``: required, normalised as every code is (NFKC, white space removed, upper
  case) and a national code or a former 20-character drug code (``code_format``); whether the
  catalog knows it is the mapping's *status*, not an error;
- ``local_name``: at most 255 characters; at most HOSPITAL_MAPPING_MAX_ROWS rows (``too_many_rows``).

The set replaces the previous one in one transaction, with history rows (set-based) for what
was added, changed and removed and one audit event; then the hospital's checks against the
release in force and every later published release are written again.
"""

from __future__ import annotations

import json
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.catalog import sql_fragments as catalog_sql
from apps.catalog.selectors import published_timeline
from apps.core.audit import audit_record
from apps.core.bulk import (
    BulkFileRejected,
    CheckedStream,
    JobProgress,
    Staging,
    collect_errors,
    header_errors,
    row_error,
    sql_text,
    staging_copy_csv,
    staging_create,
    staging_write_rows,
)
from apps.core.errors import NotFound, ValidationFailed
from apps.core.history import history_bulk_record
from apps.core.jobs import job_enqueue
from apps.core.models import AuditAction, Job

from . import mapping_selectors
from .models import CodeMapping, Hospital

# The checks' messages (``sql_text``), here and not inside the f-strings, where makemessages would miss them.
MESSAGES = {
    "control_character": _("line {line}: local_code holds a control character"),
    "already_on_line": _("line {line}: local_code {code} is already on line {first}"),
    "line_detail": _("line {line}: {detail}"),
    "too_many_mappings": _("the file has more than {count} mappings"),
}

JOB_KIND = "hospitals.mappings"
FORMATS = ("csv", "json")
COLUMNS = ("local_code", "local_name", "national_code")
REQUIRED = ("local_code", "national_code")
STAGING_TABLE = "mapping_staging"


def max_rows() -> int:
    return int(getattr(settings, "HOSPITAL_MAPPING_MAX_ROWS", 200_000))


# --- upload ------------------------------------------------------------------------------------


def mappings_enqueue(*, hospital_id: int, content: bytes, fmt: str) -> Job:
    """Store an upload (``fmt`` csv or json) and queue its import as a job of the hospital's
    province; 400 for an unknown format. The job runs after this transaction commits."""
    if fmt not in FORMATS:
        raise ValidationFailed(_("format: csv or json"), errors=[{"field": "format", "code": "invalid", "message": "csv or json"}])
    hospital = Hospital.objects.select_related("province").filter(pk=hospital_id).first()
    if hospital is None:
        raise NotFound(format_lazy(_("no hospital {hospital_id}"), hospital_id=hospital_id))
    upload = ContentFile(content, name=f"mappings.{fmt}")
    return job_enqueue(
        kind=JOB_KIND,
        user=None,
        params={"hospital_id": hospital.pk, "hospital": hospital.code, "format": fmt},
        upload=upload,
        province=hospital.province.code,
    )


def mappings_job_handler(job: Job) -> dict[str, Any]:
    """Run a queued upload (``core.jobs.job_run``); re-running it gives the same set."""
    params = job.params
    hospital = Hospital.objects.select_related("province").filter(pk=params["hospital_id"]).first()
    if hospital is None:
        raise ValidationFailed(format_lazy(_("hospital {hospital} no longer exists"), hospital=params["hospital"]))
    with default_storage.open(params["path"], "rb") as file:
        return mappings_replace(hospital=hospital, file=file, fmt=params["format"], job=job)


def _stage_csv(file: IO[bytes], progress: JobProgress) -> Staging:
    stream = CheckedStream(file, on_progress=progress)
    header, body = stream.split_header()
    errors = header_errors(header, allowed=COLUMNS, required=REQUIRED)
    if errors:
        raise BulkFileRejected(_("the header row does not match the mapping layout"), errors=errors)
    staging = staging_create(table=STAGING_TABLE, columns=header)
    staging_copy_csv(staging=staging, stream=stream, body=body)
    return staging


def _stage_json(file: IO[bytes]) -> Staging:
    try:
        records = json.load(file)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BulkFileRejected(
            _("the body is not a JSON list"), errors=[row_error(line=0, column="", code="invalid", message=str(exc)[:200])]
        ) from None
    if not isinstance(records, list):
        raise BulkFileRejected(
            _("the body is not a JSON list"), errors=[row_error(line=0, column="", code="invalid", message=_("expected a list"))]
        )
    errors: list[dict[str, Any]] = []
    rows: list[tuple[int, list[Any]]] = []
    for index, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            errors.append(
                row_error(line=index, column="", code="invalid", message=format_lazy(_("record {index} is not an object"), index=index))
            )
            continue
        # A record's keys are its header; a junk key is named by its first 64 characters.
        errors += header_errors([key[:64] for key in record], allowed=COLUMNS, required=(), line=index)
        cells = []
        for name in COLUMNS:
            value = record.get(name)
            if value is not None and not isinstance(value, str):
                errors.append(
                    row_error(line=index, column=name, code="invalid", message=format_lazy(_("{name} must be a string"), name=name))
                )
                value = None
            cells.append(value)
        rows.append((index, cells))
    if errors:
        raise BulkFileRejected(format_lazy(_("{count} problem(s) in the list; nothing was changed"), count=len(errors)), errors=errors)
    staging = staging_create(table=STAGING_TABLE, columns=list(COLUMNS))
    staging_write_rows(staging=staging, rows=rows)
    return staging


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _checks(st: Staging) -> list[str]:
    t, line = st.table, st.line_sql
    local, national, name = st.col("local_code"), st.col("national_code"), st.col("local_name")
    code = catalog_sql.national_code(national or "NULL")
    empty, longer = _("line {line}: {name} is empty"), _("line {line}: {name} is longer than {limit} characters")
    checks = [
        f"SELECT {line}, 'local_code', 'missing_field', {sql_text(empty, line=line, name=_lit('local_code'))} "
        f"FROM {t} WHERE coalesce(btrim({local}), '') = ''",
        f"SELECT {line}, 'local_code', 'too_long', {sql_text(longer, line=line, name=_lit('local_code'), limit='64')} "
        f"FROM {t} WHERE length(btrim({local})) > 64",
        f"SELECT {line}, 'local_code', 'invalid', {sql_text(MESSAGES['control_character'], line=line)} "
        f"FROM {t} WHERE {local} ~ '[[:cntrl:]]'",
        f"SELECT line, 'local_code', 'duplicate_code', "
        f"{sql_text(MESSAGES['already_on_line'], line='line', code='code', first='first')} "
        f"FROM (SELECT {line} AS line, btrim({local}) AS code, first_value({line}) OVER w AS first, row_number() OVER w AS n "
        f"FROM {t} WHERE coalesce(btrim({local}), '') <> '' WINDOW w AS (PARTITION BY btrim({local}) ORDER BY {line})) d WHERE n > 1",
        f"SELECT {line}, 'national_code', 'missing_field', {sql_text(empty, line=line, name=_lit('national_code'))} FROM {t} WHERE {code} = ''",
        f"SELECT line, 'national_code', 'code_format', {sql_text(MESSAGES['line_detail'], line='line', detail='problem')} FROM ("
        f"SELECT {line} AS line, {catalog_sql.national_code_problem('c.code')} AS problem FROM {t} "
        f"CROSS JOIN LATERAL (SELECT {code} AS code) c WHERE c.code <> '') p WHERE problem IS NOT NULL",
        f"SELECT {line}, '', 'too_many_rows', {sql_text(MESSAGES['too_many_mappings'], count=str(max_rows()))} "
        f"FROM {t} ORDER BY _ord OFFSET {max_rows()} LIMIT 1",
    ]
    if name:
        checks.append(
            f"SELECT {line}, 'local_name', 'too_long', {sql_text(longer, line=line, name=_lit('local_name'), limit='255')} "
            f"FROM {t} WHERE length(btrim({name})) > 255"
        )
    return checks


_CHANGES_SQL = """
CREATE TEMP TABLE mapping_changes ON COMMIT DROP AS
SELECT coalesce(n.local_code, o.local_code) AS local_code,
       CASE WHEN o.id IS NULL THEN '+' WHEN n.local_code IS NULL THEN '-' ELSE '~' END AS change
FROM (SELECT * FROM hospitals_codemapping WHERE hospital_id = %(hospital)s) o
FULL JOIN mapping_new n ON n.local_code = o.local_code
WHERE o.id IS NULL OR n.local_code IS NULL OR (o.local_name, o.national_code) IS DISTINCT FROM (n.local_name, n.national_code)
"""


@transaction.atomic
def mappings_replace(*, hospital: Hospital, file: IO[bytes], fmt: str, job: Job | None = None) -> dict[str, Any]:
    """Make the hospital's mapping set exactly the file's (module doc for the rules); returns
    ``{rows, added, changed, removed, unchanged}``. Raises BulkFileRejected (``import_rejected``)
    with every bad row; nothing changes then. Two uploads of one hospital run one after the other."""
    progress = JobProgress(job.pk if job else None)
    try:
        Hospital.objects.select_for_update().filter(pk=hospital.pk).values_list("pk").get()
        staging = _stage_csv(file, progress) if fmt == "csv" else _stage_json(file)
        errors, count = collect_errors(_checks(staging))
        if count:
            raise BulkFileRejected(
                format_lazy(_("{count} problem(s) in the file; nothing was changed"), count=count), errors=errors, error_count=count
            )
        local, national, name = staging.col("local_code"), staging.col("national_code"), staging.col("local_name")
        name_sql = f"coalesce(btrim(normalize({name}, NFC)), '')" if name else "''"
        counts = {"+": 0, "~": 0, "-": 0}
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS pg_temp.mapping_new, pg_temp.mapping_changes")
            cursor.execute(
                f"CREATE TEMP TABLE mapping_new ON COMMIT DROP AS SELECT btrim({local}) AS local_code, {name_sql} AS local_name, "
                f"{catalog_sql.national_code(national or 'NULL')} AS national_code FROM {staging.table}"
            )
            cursor.execute(_CHANGES_SQL, {"hospital": hospital.pk})
            cursor.execute("SELECT change, count(*) FROM mapping_changes GROUP BY change")
            counts.update({change: int(n) for change, n in cursor.fetchall()})
            reason = "mapping upload"
            if counts["-"]:
                _history(hospital, "-", reason)
                cursor.execute(
                    "DELETE FROM hospitals_codemapping WHERE hospital_id = %s "
                    "AND local_code IN (SELECT local_code FROM mapping_changes WHERE change = '-')",
                    [hospital.pk],
                )
            now = timezone.now()
            cursor.execute(
                "UPDATE hospitals_codemapping m SET local_name = n.local_name, national_code = n.national_code, updated_at = %s "
                "FROM mapping_new n JOIN mapping_changes c ON c.local_code = n.local_code AND c.change = '~' "
                "WHERE m.hospital_id = %s AND m.local_code = n.local_code",
                [now, hospital.pk],
            )
            cursor.execute(
                "INSERT INTO hospitals_codemapping (hospital_id, local_code, local_name, national_code, updated_at) "
                "SELECT %s, n.local_code, n.local_name, n.national_code, %s FROM mapping_new n "
                "JOIN mapping_changes c ON c.local_code = n.local_code AND c.change = '+' ORDER BY n.local_code",
                [hospital.pk, now],
            )
        for change in ("~", "+"):
            if counts[change]:
                _history(hospital, change, reason)
        result = {
            "rows": staging.rows,
            "added": counts["+"],
            "changed": counts["~"],
            "removed": counts["-"],
            "unchanged": staging.rows - counts["+"] - counts["~"],
        }
        audit_record(
            action=AuditAction.MAPPINGS_REPLACED,
            actor=f"hospital {hospital.code}",
            obj=hospital,
            province=hospital.province.code,
            reason=reason,
            detail={**result, "format": fmt},
        )
        result["checks"] = mapping_checks_for_hospital(hospital_id=hospital.pk)
        return result
    finally:
        progress.close()


def _history(hospital: Hospital, change: str, reason: str) -> None:
    history_bulk_record(
        model=CodeMapping,
        where_sql="hospital_id = %s AND local_code IN (SELECT local_code FROM mapping_changes WHERE change = %s)",
        params=[hospital.pk, change],
        history_type=change,
        user_id=None,  # a hospital acted, not a staff user: the audit event names it
        reason=reason,
    )


# --- checks ------------------------------------------------------------------------------------

_UPSERT_CHECKS_SQL = f"""
INSERT INTO hospitals_mappingcheck (hospital_id, release_id, total, issues, checked_at)
SELECT counts.hospital_id, %(release)s, counts.total, counts.issues, %(now)s
FROM ({mapping_selectors.ISSUE_COUNTS_SQL}) counts
ORDER BY counts.hospital_id
ON CONFLICT (hospital_id, release_id) DO UPDATE SET total = excluded.total, issues = excluded.issues, checked_at = excluded.checked_at
"""


def mapping_checks_for_release(*, release_id: int, hospital_ids: list[int] | None = None) -> int:
    """Count, for every hospital with mappings (or those named), how many the release breaks,
    and store it (one statement, whatever the number of hospitals). Returns the rows written."""
    params = {"release": release_id, "hospitals": hospital_ids, "now": timezone.now()}
    with transaction.atomic(), connection.cursor() as cursor:
        if hospital_ids is not None:
            # A hospital whose set is now empty keeps no stale count.
            cursor.execute(
                "DELETE FROM hospitals_mappingcheck c WHERE c.release_id = %s AND c.hospital_id = ANY(%s) "
                "AND NOT EXISTS (SELECT 1 FROM hospitals_codemapping m WHERE m.hospital_id = c.hospital_id)",
                [release_id, hospital_ids],
            )
        cursor.execute(_UPSERT_CHECKS_SQL, params)
        return int(cursor.rowcount)


def mapping_checks_for_hospital(*, hospital_id: int) -> int:
    """After an upload: the hospital's checks against the release in force today and every
    release published to take effect later (what the staff page and notices read)."""
    timeline = published_timeline()
    today = timezone.localdate()
    current = timeline.in_force(today)
    releases = [r for r in timeline.releases if r.effective_from > today or (current is not None and r.pk == current.pk)]
    return sum(mapping_checks_for_release(release_id=r.pk, hospital_ids=[hospital_id]) for r in releases)


def recheck_after_publish(*, release_id: int) -> int:
    """The publish's after-commit work: every hospital's mappings against the new release."""
    return mapping_checks_for_release(release_id=release_id)
