"""Generic bulk-file plumbing shared by importers (catalog releases, settlement files).

What lives here knows nothing about catalogs: it detects a file's text encoding (UTF-8,
UTF-8 with BOM, GB18030; anything else is a clear ``encoding`` error, never a silent guess),
streams raw CSV bytes into a temporary staging table with PostgreSQL ``COPY`` (PostgreSQL
parses the CSV, CRLF included), or writes rows produced in Python (JSON, XLSX) with
``copy.write_row``, works out each record's physical line number, collects set-based
validation errors as ``{line, column, code, message}`` capped with a count of the rest, and
reports progress to a ``Job`` row from a second connection so it is visible while the
import's own transaction is still open.

Line numbers: the header is line 1. Rows copied raw get an ordinal from an identity column;
when no field holds an embedded newline (checked by counting newlines in the stream) the
physical line is ``ordinal + header lines``; otherwise it is computed with one window query.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import connection
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from .errors import ValidationFailed, english, in_languages
from .jobs import ERRORS_LISTED

CHUNK_BYTES = 256 * 1024
SNIFF_BYTES = 64 * 1024
_BOM = codecs.BOM_UTF8


@dataclass(frozen=True)
class TextEncoding:
    """A detected encoding: Python's codec name, PostgreSQL's name and the bytes to skip."""

    python: str
    postgres: str
    skip: int = 0

    @property
    def label(self) -> str:
        return "UTF-8 with BOM" if self.skip else {"utf-8": "UTF-8", "gb18030": "GB18030"}[self.python]


UTF8 = TextEncoding("utf-8", "UTF8")
UTF8_BOM = TextEncoding("utf-8", "UTF8", skip=len(_BOM))
GB18030 = TextEncoding("gb18030", "GB18030")


def row_error(*, line: int, column: str, code: str, message: Any) -> dict[str, Any]:
    """One row error; ``message`` (a lazy translation) is stored in English and in the site's
    other languages, for the job page and its errors CSV to show in the reader's (``localized``)."""
    return {"line": line, "column": column, "code": code, **in_languages("message", message)}


def header_errors(
    header: Sequence[str],
    *,
    allowed: Sequence[str] | None,
    required: Iterable[str],
    missing_code: str = "missing_field",
    line: int = 1,
) -> list[dict[str, Any]]:
    """The row errors of a file's header (on ``line``, 1: the header line), the same in every
    importer: first the header's names in their order — ``unknown_column`` for a name not in
    ``allowed`` (None: the layout takes any other column), ``duplicate_column`` for a name's
    second and later appearances — then ``missing_code`` for each ``required`` name the header
    lacks, in the order of ``required``. ``missing_code`` is ``missing_field``, the imports'
    code since the first catalog import; the benefits app's small files say ``missing_column``.
    ``column`` is the name as written. An importer's own header rules (layout detection, an
    empty file) stay with it."""
    choices = ", ".join(allowed) if allowed is not None else ""
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for name in header:
        if allowed is not None and name not in allowed:
            errors.append(
                row_error(
                    line=line,
                    column=name,
                    code="unknown_column",
                    message=format_lazy(_("column {name!r} is not one of {choices}"), name=name, choices=choices),
                )
            )
        elif name in seen:
            errors.append(
                row_error(
                    line=line, column=name, code="duplicate_column", message=format_lazy(_("column {name!r} appears twice"), name=name)
                )
            )
        seen.add(name)
    errors += [
        row_error(
            line=line,
            column=name,
            code=missing_code,
            message=format_lazy(_("the header lacks the required column {name!r}"), name=name),
        )
        for name in required
        if name not in seen
    ]
    return errors


class BulkFileRejected(ValidationFailed):
    """A bulk file with bad rows: nothing was changed. ``errors`` holds up to ERRORS_LISTED
    row errors ({line, column, code, message}); ``error_count`` counts all of them."""

    code = "import_rejected"

    def __init__(self, detail: Any, *, errors: list[dict[str, Any]], error_count: int | None = None) -> None:
        super().__init__(detail, errors=errors[:ERRORS_LISTED])
        self.error_count = len(errors) if error_count is None else error_count


def encoding_error(line: int, detail: Any) -> BulkFileRejected:
    return BulkFileRejected(
        format_lazy(_("the file is not readable text: {detail}"), detail=detail),
        errors=[
            row_error(
                line=line,
                column="",
                code="encoding",
                message=format_lazy(_("{detail}; save the file as UTF-8 (with or without BOM) or GB18030"), detail=detail),
            )
        ],
    )


def _line_of(data: bytes, offset: int, lines_before: int) -> int:
    return lines_before + data[:offset].count(b"\n") + 1


def detect_encoding(head: bytes) -> TextEncoding:
    """UTF-8 BOM → UTF-8 with BOM; valid UTF-8 → UTF-8; else valid GB18030 → GB18030; else a
    BulkFileRejected with an ``encoding`` error naming the line. ``head`` is the file's start."""
    if head.startswith(_BOM):
        return UTF8_BOM
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(head, final=False)
        return UTF8
    except UnicodeDecodeError as utf8_exc:
        try:
            codecs.getincrementaldecoder("gb18030")("strict").decode(head, final=False)
            return GB18030
        except UnicodeDecodeError:
            line = _line_of(head, utf8_exc.start, 0)
            raise encoding_error(line, format_lazy(_("line {line} is neither UTF-8 nor GB18030"), line=line)) from None


class CheckedStream:
    """Reads a binary file in chunks, verifies every byte decodes in the detected encoding
    (an ``encoding`` error names the physical line otherwise), counts newlines and bytes."""

    def __init__(self, raw: IO[bytes], *, on_progress: Callable[[int], None] | None = None) -> None:
        self.raw = raw
        head = raw.read(SNIFF_BYTES)
        self.encoding = detect_encoding(head)
        self._pending = head[self.encoding.skip :]
        self._decoder = codecs.getincrementaldecoder(self.encoding.python)("strict")
        self.newlines = 0
        self.bytes_read = len(head)
        self.ends_with_newline = False
        self._on_progress = on_progress

    def _check(self, data: bytes, final: bool) -> None:
        try:
            self._decoder.decode(data, final=final)
        except UnicodeDecodeError as exc:
            line = _line_of(data, max(exc.start, 0), self.newlines)
            raise encoding_error(line, format_lazy(_("line {line} is not valid {label}"), line=line, label=self.encoding.label)) from None

    def chunks(self) -> Iterator[bytes]:
        """The file's bytes (without BOM), checked; the decoder is flushed at the end."""
        data = self._pending
        self._pending = b""
        while True:
            if data:
                self._check(data, final=False)
                self.newlines += data.count(b"\n")
                self.ends_with_newline = data.endswith(b"\n")
                yield data
                if self._on_progress:
                    self._on_progress(self.bytes_read)
            data = self.raw.read(CHUNK_BYTES)
            if not data:
                self._check(b"", final=True)
                return
            self.bytes_read += len(data)

    def split_header(self) -> tuple[list[str], Iterator[bytes]]:
        """Parse the first CSV line as the header; return it and the remaining bytes."""
        chunks = self.chunks()
        buffer = b""
        for chunk in chunks:
            buffer += chunk
            if b"\n" in buffer:
                break
        head, _sep, rest = buffer.partition(b"\n")
        text = head.decode(self.encoding.python).rstrip("\r")
        header = [name.strip() for name in next(csv.reader([text]), [])]

        def remaining() -> Iterator[bytes]:
            if rest:
                yield rest
            yield from chunks

        return header, remaining()


# --- staging tables ----------------------------------------------------------------------

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass
class Staging:
    """A temporary table of text columns ``c0..cN`` holding a file's records as written.

    ``columns`` are the header names as written in the file (used in error messages);
    ``line_sql`` is the SQL expression giving a record's physical line.
    """

    table: str
    columns: list[str]
    header_lines: int = 1
    rows: int = 0
    line_sql: str = "_line"
    extra: dict[str, Any] = field(default_factory=dict)

    def col(self, name: str) -> str | None:
        """The staging column holding the file column ``name``, or None if the file lacks it."""
        return f"c{self.columns.index(name)}" if name in self.columns else None


def staging_create(*, table: str, columns: list[str]) -> Staging:
    """Create (replacing any left over in this session) a temp table dropped at commit."""
    if not _IDENT.match(table):
        raise ValueError(f"bad staging table name {table!r}")
    cols = ", ".join(f"c{i} text" for i in range(len(columns)))
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{table}")
        cursor.execute(
            f"CREATE TEMP TABLE {table} (_ord bigint GENERATED BY DEFAULT AS IDENTITY, _line bigint{', ' if cols else ''}{cols}) "
            "ON COMMIT DROP"
        )
    return Staging(table=table, columns=columns)


class CopyFailed(Exception):
    pass


def staging_copy_csv(*, staging: Staging, stream: CheckedStream, body: Iterable[bytes]) -> int:
    """COPY the CSV records in ``body`` (the bytes after the header) into the staging table.

    Malformed CSV (wrong number of cells, an unterminated quote) is a row error
    ``malformed_row`` on the line PostgreSQL names. Returns the number of records.
    """
    import psycopg

    targets = ", ".join(f"c{i}" for i in range(len(staging.columns)))
    sql = f"COPY {staging.table} ({targets}) FROM STDIN WITH (FORMAT csv, ENCODING '{stream.encoding.postgres}')"
    with connection.cursor() as cursor:
        raw = cursor.cursor
        try:
            with raw.copy(sql) as copy:
                for chunk in body:
                    copy.write(chunk)
        except psycopg.errors.DataError as exc:  # BadCopyFileFormat and friends
            context = getattr(exc.diag, "context", "") or ""
            match = re.search(r"line (\d+)", context)
            line = int(match.group(1)) + staging.header_lines if match else 0
            detail = (exc.diag.message_primary or str(exc)).strip()
            raise BulkFileRejected(
                format_lazy(_("line {line} is not a well-formed CSV record"), line=line),
                errors=[
                    row_error(
                        line=line,
                        column="",
                        code="malformed_row",
                        message=format_lazy(_("line {line}: {detail}"), line=line, detail=detail),
                    )
                ],
            ) from None
        cursor.execute(f"SELECT count(*) FROM {staging.table}")
        staging.rows = int(cursor.fetchone()[0])
    _assign_lines(staging=staging, stream=stream)
    return staging.rows


def _assign_lines(*, staging: Staging, stream: CheckedStream) -> None:
    # Newlines after the header = records when none is embedded in a quoted field (the last
    # record may lack its newline). Otherwise count the embedded ones, record by record.
    data_newlines = stream.newlines - staging.header_lines
    if data_newlines in (staging.rows, staging.rows - 1):
        staging.line_sql = f"(_ord + {staging.header_lines})"
        return
    embedded = " + ".join(f"coalesce(length(c{i}) - length(replace(c{i}, E'\\n', '')), 0)" for i in range(len(staging.columns)))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {staging.table} s SET _line = x.line FROM ("
            f" SELECT _ord, {staging.header_lines} + _ord + coalesce(sum({embedded}) OVER (ORDER BY _ord"
            "  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS line"
            f" FROM {staging.table}) x WHERE x._ord = s._ord"
        )
    staging.line_sql = "_line"


def staging_write_rows(*, staging: Staging, rows: Iterable[tuple[int, list[Any]]]) -> int:
    """COPY rows produced in Python (``(line, cells)``, cells in ``staging.columns`` order)."""
    targets = ", ".join(["_line", *(f"c{i}" for i in range(len(staging.columns)))])
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {staging.table} ({targets}) FROM STDIN") as copy:
        for line, cells in rows:
            copy.write_row([line, *(None if c is None else str(c) for c in cells)])
            count += 1
    staging.rows = count
    staging.line_sql = "_line"
    return count


# --- set-based validation errors ---------------------------------------------------------


def sql_text(template: Any, **params: str) -> str:
    """SQL for the message of a validation query that reads in every language: the English
    ``template`` (a ``_()`` text with ``{name}`` fields) and its ``params`` (SQL expressions) as
    JSON text, which ``collect_errors`` turns into the row error's message. A param may itself
    be a ``sql_text``."""
    msgid = english(template).replace("'", "''")
    args = ", ".join(f"'{name}', {expr}" for name, expr in params.items())
    return f"json_build_object('text', '{msgid}', 'params', json_build_object({args}))::text"


def sql_label(expr: str, choices: Any) -> str:
    """SQL for a stored choice value (``expr``) as a param of ``sql_text`` that reads as its label
    in every language (``choices``: a model's TextChoices); a value that is not a choice reads as itself."""
    cases = " ".join(f"WHEN '{value}' THEN {sql_text(label)}" for value, label in choices.choices)
    return f"(CASE {expr} {cases} ELSE {expr} END)"


def _sql_message(text: Any) -> Any:
    if not (isinstance(text, str) and text.startswith('{"text"')):
        return text
    made = json.loads(text)
    params = {name: _sql_message(value) for name, value in (made.get("params") or {}).items()}
    return format_lazy(gettext_lazy(made["text"]), **params)


def collect_errors(checks: list[str], params: list[Any] | None = None, *, cap: int = ERRORS_LISTED) -> tuple[list[dict[str, Any]], int]:
    """Run validation queries (each selecting ``line, col, code, message``) as one UNION ALL;
    return the first ``cap`` errors ordered by line and column, and the total count."""
    if not checks:
        return [], 0
    union = " UNION ALL ".join(f"({check})" for check in checks)
    sql = f"SELECT line, col, code, message, count(*) OVER () FROM ({union}) AS e(line, col, code, message) ORDER BY line, col, code LIMIT {int(cap)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        rows = cursor.fetchall()
    errors = [row_error(line=int(r[0]), column=r[1] or "", code=r[2], message=_sql_message(r[3])) for r in rows]
    return errors, int(rows[0][4]) if rows else 0


# --- progress ----------------------------------------------------------------------------


class JobProgress:
    """Throttled ``done``/``total`` updates of a Job row through a second database
    connection, so they are visible while the caller's transaction is open. Best effort:
    progress must never fail an import."""

    def __init__(self, job_id: int | None, *, total: int | None = None, every: float = 0.5) -> None:
        self.job_id = job_id
        self.total = total
        self.every = every
        self._last = 0.0
        self._conn: Any = None
        self.listeners: list[Callable[[int], None]] = []

    def __call__(self, done: int, *, force: bool = False) -> None:
        for listener in self.listeners:
            listener(done)
        now = time.monotonic()
        if self.job_id is None or (not force and now - self._last < self.every):
            return
        self._last = now
        try:
            if self._conn is None:
                import psycopg

                params = connection.get_connection_params()
                keys = ("dbname", "user", "password", "host", "port", "sslmode", "options")
                self._conn = psycopg.connect(**{k: params[k] for k in keys if k in params}, autocommit=True)
                self._conn.execute("SET statement_timeout = 2000")
            self._conn.execute("UPDATE core_job SET done = %s, total = %s WHERE id = %s", [done, self.total, self.job_id])
        except Exception:  # noqa: BLE001 - progress is advisory
            self.job_id = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
