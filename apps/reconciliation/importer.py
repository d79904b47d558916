"""Settlement files → SettlementRecord rows: COPY into staging, set-based validation, one INSERT.

Shares the bulk plumbing of apps.core.bulk with the catalog importer (encoding detection, COPY,
line numbers, capped error collection). All-or-nothing: a file with any bad row inserts
nothing and every bad row is reported as ``{line, column, code, message}``.
"""

from __future__ import annotations

from typing import IO, Any

from django.db import connection

from apps.core.bulk import (
    BulkFileRejected,
    CheckedStream,
    JobProgress,
    Staging,
    collect_errors,
    row_error,
    staging_copy_csv,
    staging_create,
)

COLUMNS = (
    "settlement_id",
    "home_province",
    "destination_province",
    "hospital_code",
    "patient_id_hash",
    "date_of_service",
    "release_label",
    "drg_group",
    "total_fen",
    "fund_fen",
    "patient_fen",
)
OPTIONAL = ("drg_flag",)
MAX_LENGTH = {"settlement_id": 64, "hospital_code": 32, "patient_id_hash": 64, "release_label": 32, "drg_group": 16}
AMOUNTS = ("total_fen", "fund_fen", "patient_fen")
FLAG_TRUE = ("1", "true", "t", "y", "yes")
FLAG_VALUES = ("", "0", "false", "f", "n", "no", *FLAG_TRUE)
STAGING_TABLE = "settlement_staging"
DATE_RE = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


def header_errors(header: list[str]) -> list[dict[str, Any]]:
    errors, seen = [], set()
    for name in header:
        if name not in COLUMNS + OPTIONAL:
            errors.append(
                row_error(line=1, column=name, code="unknown_column", message=f"column {name!r} is not part of the settlement layout")
            )
        elif name in seen:
            errors.append(row_error(line=1, column=name, code="duplicate_column", message=f"column {name!r} appears twice"))
        seen.add(name)
    for name in COLUMNS:
        if name not in header:
            errors.append(row_error(line=1, column=name, code="missing_field", message=f"the header lacks the required column {name!r}"))
    return errors


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _checks(st: Staging) -> list[str]:
    t, line = st.table, st.line_sql
    col = {name: st.col(name) for name in COLUMNS + OPTIONAL}
    checks = []
    for name in COLUMNS:
        c = col[name]
        if name != "drg_group":
            checks.append(
                f"SELECT {line}, {_lit(name)}, 'missing_field', 'line ' || {line} || ': {name} is empty' FROM {t} WHERE coalesce(btrim({c}), '') = ''"
            )
    for name, limit in MAX_LENGTH.items():
        checks.append(
            f"SELECT {line}, {_lit(name)}, 'too_long', 'line ' || {line} || ': {name} is longer than {limit} characters' "
            f"FROM {t} WHERE length(btrim({col[name]})) > {limit}"
        )
    for name in ("home_province", "destination_province"):
        c = col[name]
        checks.append(
            f"SELECT {line}, {_lit(name)}, 'code_format', 'line ' || {line} || ': ' || btrim({c}) || ' is not a 6-digit GB/T 2260 province code' "
            f"FROM {t} WHERE btrim({c}) !~ '^[0-9]{{6}}$' AND coalesce(btrim({c}), '') <> ''"
        )
        checks.append(
            f"SELECT {line}, {_lit(name)}, 'unknown_province', 'line ' || {line} || ': no province ' || btrim({c}) "
            f"FROM {t} s WHERE btrim({c}) ~ '^[0-9]{{6}}$' AND NOT EXISTS (SELECT 1 FROM benefits_province p WHERE p.code = btrim(s.{c}))"
        )
    home, dest = col["home_province"], col["destination_province"]
    checks.append(
        f"SELECT {line}, 'destination_province', 'not_cross_province', 'line ' || {line} || ': home and destination are both ' || btrim({home}) "
        f"FROM {t} WHERE btrim({home}) = btrim({dest})"
    )
    d = col["date_of_service"]
    checks.append(
        f"SELECT {line}, 'date_of_service', 'date_format', 'line ' || {line} || ': ' || btrim({d}) || ' is not a date YYYY-MM-DD' "
        f"FROM {t} WHERE coalesce(btrim({d}), '') <> '' AND CASE WHEN btrim({d}) !~ '{DATE_RE}' OR btrim({d}) LIKE '0000-%%' THEN true ELSE substr(btrim({d}), 9, 2)::int > "
        f"extract(day FROM make_date(substr(btrim({d}), 1, 4)::int, substr(btrim({d}), 6, 2)::int, 1) + interval '1 month - 1 day') END"
    )
    for name in AMOUNTS:
        c = col[name]
        checks.append(
            f"SELECT {line}, {_lit(name)}, 'not_fen', 'line ' || {line} || ': ' || btrim({c}) || ' is not a whole, non-negative number of fen' "
            f"FROM {t} WHERE coalesce(btrim({c}), '') <> '' AND btrim({c}) !~ '^[0-9]{{1,15}}$'"
        )
    ok = " AND ".join(f"btrim({col[n]}) ~ '^[0-9]{{1,15}}$'" for n in AMOUNTS)
    checks.append(
        f"SELECT {line}, 'total_fen', 'amounts_disagree', 'line ' || {line} || ': total_fen ' || btrim({col['total_fen']}) || "
        f"' is not fund_fen + patient_fen' FROM {t} WHERE CASE WHEN {ok} THEN btrim({col['total_fen']})::bigint <> "
        f"btrim({col['fund_fen']})::bigint + btrim({col['patient_fen']})::bigint ELSE false END"
    )
    if col["drg_flag"]:
        values = ", ".join(_lit(v) for v in FLAG_VALUES)
        checks.append(
            f"SELECT {line}, 'drg_flag', 'invalid', 'line ' || {line} || ': drg_flag ' || btrim({col['drg_flag']}) || ' is not 0/1' "
            f"FROM {t} WHERE lower(coalesce(btrim({col['drg_flag']}), '')) NOT IN ({values})"
        )
    return checks


def _province_wall(st: Staging, *, side: str, province: str) -> str:
    """A province-bound importer files her own side only: with ``side=home`` every row's
    home_province, with ``side=destination`` every row's destination_province is hers."""
    column = "home_province" if side == "home" else "destination_province"
    c = st.col(column)
    return (
        f"SELECT {st.line_sql}, {_lit(column)}, 'wrong_province', 'line ' || {st.line_sql} || ': {column} ' || btrim({c}) || "
        f"' is not {province}, the province you import for' FROM {st.table} "
        f"WHERE btrim({c}) ~ '^[0-9]{{6}}$' AND btrim({c}) <> {_lit(province)}"
    )


def copy_settlements(*, file: IO[bytes], progress: JobProgress, batch_id: int, period: str, side: str, province: str = "") -> int:
    """Load ``file`` into staging, validate, insert as ``batch_id``'s records; returns rows.
    ``province`` is the importer's ('' national: any province). Raises BulkFileRejected with
    every bad row. PostgreSQL only; call inside a transaction."""
    stream = CheckedStream(file, on_progress=progress)
    header, body = stream.split_header()
    errors = header_errors(header)
    if errors:
        raise BulkFileRejected("the header row does not match the settlement layout", errors=errors)
    st = staging_create(table=STAGING_TABLE, columns=header)
    staging_copy_csv(staging=st, stream=stream, body=body)
    checks = _checks(st)
    if province:
        checks.append(_province_wall(st, side=side, province=province))
    errors, count = collect_errors(checks)
    if count:
        raise BulkFileRejected(f"{count} problem(s) in the file; nothing was imported", errors=errors, error_count=count)
    c = {name: st.col(name) for name in COLUMNS + OPTIONAL}
    flag = (
        f"lower(coalesce(btrim({c['drg_flag']}), '')) IN ({', '.join(_lit(v) for v in FLAG_TRUE)})"
        if c["drg_flag"]
        else f"coalesce(btrim({c['drg_group']}), '') <> ''"
    )
    with connection.cursor() as cursor:
        # Rows go in settlement_id order: the matching of a large month reads each side through
        # the (period, side, settlement_id) index, and then reads the table in order too.
        cursor.execute(
            "INSERT INTO reconciliation_settlementrecord (batch_id, period, side, settlement_id, home_province, destination_province,"
            " hospital_code, patient_id_hash, date_of_service, release_label, drg_group, drg_flag, total_fen, fund_fen, patient_fen)"
            f" SELECT %s, %s, %s, btrim({c['settlement_id']}), btrim({c['home_province']}), btrim({c['destination_province']}),"
            f" btrim({c['hospital_code']}), btrim({c['patient_id_hash']}), btrim({c['date_of_service']})::date, btrim({c['release_label']}),"
            f" coalesce(btrim({c['drg_group']}), ''), {flag}, btrim({c['total_fen']})::bigint, btrim({c['fund_fen']})::bigint,"
            f" btrim({c['patient_fen']})::bigint FROM {st.table} ORDER BY 4, _ord",
            [batch_id, period, side],
        )
        rows = int(cursor.rowcount)
        # Fresh statistics for the run that follows: autovacuum may not have looked at a table
        # that just grew by millions of rows, and the matching plan depends on them.
        cursor.execute("ANALYZE reconciliation_settlementrecord")
        return rows
