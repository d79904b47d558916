"""Settlement files → SettlementRecord rows: COPY into staging, set-based validation, one INSERT.

Shares the bulk plumbing of apps.core.bulk with the catalog importer (encoding detection, COPY,
line numbers, capped error collection). All-or-nothing: a file with any bad row inserts
nothing and every bad row is reported as ``{line, column, code, message}``.
"""

from __future__ import annotations

from typing import IO, Any

from django.db import connection
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.core.bulk import (
    BulkFileRejected,
    CheckedStream,
    JobProgress,
    Staging,
    collect_errors,
    header_errors,
    staging_copy_csv,
    staging_create,
)

from . import sql
from .sql import COLUMNS, OPTIONAL

STAGING_TABLE = "settlement_staging"


def stage_settlements(*, file: IO[bytes], progress: JobProgress, side: str, province: str = "") -> tuple[Staging, dict[str, int]]:
    """Load ``file`` into staging and validate it; returns the staging table and the rows per
    province of the side (whose batches they become). ``province`` is the importer's ('' national:
    any province). Raises BulkFileRejected with every bad row. PostgreSQL only; in a transaction."""
    stream = CheckedStream(file, on_progress=progress)
    header, body = stream.split_header()
    errors = header_errors(header, allowed=COLUMNS + OPTIONAL, required=COLUMNS)
    if errors:
        raise BulkFileRejected(_("the header row does not match the settlement layout"), errors=errors)
    st = staging_create(table=STAGING_TABLE, columns=header)
    staging_copy_csv(staging=st, stream=stream, body=body)
    checks = sql.settlement_checks(st)
    if province:
        checks.append(sql.settlement_province_wall(st, side=side, province=province))
    errors, count = collect_errors(checks)
    if count:
        raise BulkFileRejected(
            format_lazy(_("{count} problem(s) in the file; nothing was imported"), count=count), errors=errors, error_count=count
        )
    with connection.cursor() as cursor:
        cursor.execute(sql.settlement_provinces(st, side=side))
        return st, {code: int(n) for code, n in cursor.fetchall()}


def insert_settlements(*, staging: Staging, batches: dict[str, int], period: str, side: str) -> int:
    """Insert the staged records, each into the batch of its province (``batches``: code → id); returns rows."""
    params: list[Any] = [period, side]
    for code, batch_id in batches.items():
        params += [code, batch_id]
    with connection.cursor() as cursor:
        cursor.execute(sql.settlement_insert(staging, side=side, batches=len(batches)), params)
        rows = int(cursor.rowcount)
        cursor.execute(sql.ANALYZE_RECORDS_SQL)
        return rows
