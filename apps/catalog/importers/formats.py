"""The accepted import formats: how each file reaches the staging table, and which file column
feeds which item field. Validation and merge are the same SQL for every format (sql.py).

- ``canonical-csv``: the export layout (``CANONICAL_COLUMNS``), header row, any column order,
  only ``code``, ``name``, ``category`` required; ``replaces`` is ';'-separated. Raw COPY.
- ``nhsa-consumables-csv``: the NHSA consumables list as published
  (``id,name,primary,secondary,tertiary,common_name,material,specifications,enterprise``,
  optional ``category``). Raw COPY. ``primary``/``secondary``/``tertiary`` (``01-…``) must
  agree with the code's class digits; the item's ``category_path`` is the code's 15-char path.
- ``nrdl-json``: the national drug list as a category tree (see ``_nrdl_records``).
- ``xlsx``: the canonical layout in the first sheet (openpyxl read-only).
"""

from __future__ import annotations

import codecs
import datetime as dt
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.core.bulk import (
    BulkFileRejected,
    CheckedStream,
    JobProgress,
    Staging,
    header_errors,
    row_error,
    sql_label,
    sql_text,
    staging_copy_csv,
    staging_create,
    staging_write_rows,
)

from ..models import CANONICAL_COLUMNS, ItemKind

CANONICAL_CSV = "canonical-csv"
NHSA_CONSUMABLES_CSV = "nhsa-consumables-csv"
NRDL_JSON = "nrdl-json"
XLSX = "xlsx"
FORMATS = (CANONICAL_CSV, NHSA_CONSUMABLES_CSV, NRDL_JSON, XLSX)

STAGING_TABLE = "import_staging"
REQUIRED = ("code", "name", "category")
NHSA_COLUMNS = ("id", "name", "primary", "secondary", "tertiary", "common_name", "material", "specifications", "enterprise")
NHSA_OPTIONAL = ("category",)
# item field <- NHSA column
NHSA_FIELDS = {
    "code": "id",
    "name": "name",
    "generic_name": "common_name",
    "dosage_form": "material",
    "specification": "specifications",
    "manufacturer": "enterprise",
    "category": "category",
}
# NRDL medicine keys are the canonical field names; these are also accepted.
NRDL_ALIASES = {"restriction": "restriction_text", "payment_category": "category", "form": "dosage_form"}
NRDL_KEYS = tuple(c for c in CANONICAL_COLUMNS if c not in ("kind", "category_path"))
PAYMENT_CATEGORY_WORDS = {"甲": "01", "乙": "02", "丙": "03", "甲类": "01", "乙类": "02", "丙类": "03"}


def consumable_default_category() -> str:
    """Payment category given to NHSA consumables rows without a ``category`` column.

    The national consumables code list carries no 甲/乙/丙; provinces set it (*unverified*
    default ``02``, setting ``CATALOG_IMPORT_CONSUMABLE_CATEGORY``)."""
    return str(getattr(settings, "CATALOG_IMPORT_CONSUMABLE_CATEGORY", "02"))


@dataclass
class Source:
    """A file loaded into staging: ``fields`` maps item field -> (SQL over staging alias ``s``,
    file column name for errors); ``extra`` are more staging expressions kept for ``checks``
    (SQL over import_items alias ``n`` selecting line, col, code, message)."""

    staging: Staging
    fields: dict[str, tuple[str, str]]
    encoding: str
    extra: dict[str, str] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    # item field -> value a blank cell of a new item gets (the file has no such column)
    defaults: dict[str, str] = field(default_factory=dict)


def _reject_header(errors: list[dict[str, Any]]) -> None:
    if errors:
        raise BulkFileRejected(_("the header row does not match the layout"), errors=errors)


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


# --- "is this file in the format it was sent as?" -----------------------------------------------
#
# A file sent under the wrong format is one ``format`` error that names the format it looks like,
# not a cascade of encoding or column errors. Only sure signs count: the magic bytes of a zip
# (XLSX), an old Excel, PDF or gzip file, a JSON document's first character, or a CSV header that
# is exactly another layout's.

_MAGIC = (
    (b"PK\x03\x04", "an XLSX workbook (a zip archive)", XLSX),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) workbook", XLSX),
    (b"%PDF", "a PDF document", ""),
    (b"\x1f\x8b", "a gzip archive", ""),
)


def format_error(message: Any) -> BulkFileRejected:
    return BulkFileRejected(message, errors=[row_error(line=0, column="", code="format", message=message)])


def _head(file: IO[bytes], size: int = 64) -> bytes:
    file.seek(0)
    head = file.read(size)
    file.seek(0)
    return head


def _what_it_is(head: bytes) -> tuple[str, str] | None:
    """(what the file is, the format to choose) when its first bytes say so."""
    for magic, what, fmt in _MAGIC:
        if head.startswith(magic):
            return what, fmt
    text = head[len(codecs.BOM_UTF8) :] if head.startswith(codecs.BOM_UTF8) else head
    if text.lstrip()[:1] in (b"{", b"["):
        return "a JSON document", NRDL_JSON
    return None


def _wrong_format(sent_as: str, what: str, fmt: str) -> BulkFileRejected:
    hint = f"; choose the format {fmt}" if fmt else "; export the list as CSV, XLSX or JSON first"
    return format_error(format_lazy(_("the file is {what}, not {sent_as}{hint}"), what=what, sent_as=sent_as, hint=hint))


def _check_text_format(file: IO[bytes], sent_as: str) -> None:
    found = _what_it_is(_head(file))
    if found is not None:
        raise _wrong_format(sent_as, *found)


def _check_header_format(header: list[str], sent_as: str) -> None:
    """A header that is another layout's is a ``format`` error naming that layout."""
    names = set(header)
    for fmt, (allowed, required) in _CSV_LAYOUTS.items():
        if fmt != sent_as and names <= set(allowed) and set(required) <= names:
            raise format_error(
                format_lazy(_("the header is the {fmt} layout, not {sent_as}; choose the format {fmt}"), fmt=fmt, sent_as=sent_as)
            )


def _csv_source(
    file: IO[bytes], progress: JobProgress, *, sent_as: str, allowed: tuple[str, ...], required: tuple[str, ...]
) -> tuple[Source, Staging]:
    _check_text_format(file, sent_as)
    stream: CheckedStream | None = None
    # Progress in records read (lines after the header), not bytes.
    stream = CheckedStream(file, on_progress=lambda _bytes: progress(max((stream.newlines if stream else 0) - 1, 0)))
    header, body = stream.split_header()
    errors = header_errors(header, allowed=allowed, required=required)
    if errors:
        _check_header_format(header, sent_as)
    _reject_header(errors)
    staging = staging_create(table=STAGING_TABLE, columns=header)
    staging_copy_csv(staging=staging, stream=stream, body=body)
    return Source(staging=staging, fields={}, encoding=stream.encoding.label), staging


def read_canonical_csv(file: IO[bytes], progress: JobProgress) -> Source:
    source, staging = _csv_source(file, progress, sent_as=CANONICAL_CSV, allowed=CANONICAL_COLUMNS, required=REQUIRED)
    source.fields = {name: (f"s.{staging.col(name)}", name) for name in staging.columns}
    return source


def read_nhsa_consumables_csv(file: IO[bytes], progress: JobProgress) -> Source:
    source, staging = _csv_source(file, progress, sent_as=NHSA_CONSUMABLES_CSV, allowed=NHSA_COLUMNS + NHSA_OPTIONAL, required=NHSA_COLUMNS)
    fields = {}
    for item_field, column in NHSA_FIELDS.items():
        col = staging.col(column)
        if col is None:
            # A new item gets the default; in merge mode an item of the draft keeps its own.
            source.defaults[item_field] = consumable_default_category()
        elif item_field in ("generic_name", "dosage_form"):
            # "001-支架", "01-镍钛合金": keep the words, the number is in the code already.
            fields[item_field] = (f"regexp_replace(s.{col}, '^\\s*[0-9]+\\s*[-－—]\\s*', '')", column)
        else:
            fields[item_field] = (f"s.{col}", column)
    source.fields = fields
    # The class, subclass and group digits named in primary/secondary/tertiary must be the
    # code's own (C + 2 + 2 + 2 digits): a mismatch means the row was filed under the wrong path.
    for level, (column, start) in enumerate((("primary", 2), ("secondary", 4), ("tertiary", 6))):
        name = f"path{level}"
        source.extra[name] = f"substring(btrim(s.{staging.col(column)}) from '^([0-9]+)')"
        source.checks.append(
            f"SELECT n.line, {_lit(column)}, 'code_format', "
            + sql_text(
                _("code {code} is filed under {column} {path} but its digits {digits} are {own}"),
                code="n.code",
                column=_lit(column),
                path=f"n.{name}",
                digits=_lit(f"{start}-{start + 1}"),
                own=f"substr(n.code, {start}, 2)",
            )
            + " FROM import_items n "
            f"WHERE n.kind = 'consumable' AND n.{name} IS NOT NULL AND n.{name} <> substr(n.code, {start}, 2)"
        )
    source.checks.append(
        "SELECT n.line, 'id', 'code_format', "
        + sql_text(_("code {code} is a {kind} code; this list holds consumables only"), code="n.code", kind=sql_label("n.kind", ItemKind))
        + " FROM import_items n WHERE n.kind IS NOT NULL AND n.kind <> 'consumable'"
    )
    return source


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def read_xlsx(file: IO[bytes], progress: JobProgress) -> Source:
    header, rows = xlsx_rows(file, progress=progress)
    _reject_header(header_errors(header, allowed=CANONICAL_COLUMNS, required=REQUIRED))
    staging = staging_create(table=STAGING_TABLE, columns=header)
    staging_write_rows(staging=staging, rows=_counting(rows, progress))
    return Source(staging=staging, fields={name: (f"s.{staging.col(name)}", name) for name in header}, encoding="xlsx")


def _xlsx_refused(code: str, message: str, line: int = 0) -> BulkFileRejected:
    return BulkFileRejected(message, errors=[row_error(line=line, column="", code=code, message=message)])


def _chain_has(exc: BaseException | None, kind: type[BaseException]) -> BaseException | None:
    """``exc`` or the exception it was raised from, when one is a ``kind`` (openpyxl wraps)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, kind):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _xlsx_check_archive(file: IO[bytes]) -> None:
    """Before openpyxl opens it: a zip whose parts unpack to at most XLSX_MAX_UNCOMPRESSED_BYTES.
    (zipfile stops at each part's declared size and fails its CRC if the data runs on, so a
    part cannot unpack to more than the sizes added up here.)"""
    limit = int(settings.XLSX_MAX_UNCOMPRESSED_BYTES)
    try:
        with zipfile.ZipFile(file) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        found = _what_it_is(_head(file))
        raise (
            _wrong_format(XLSX, *found) if found else format_error(format_lazy(_("the file is not an XLSX workbook ({exc})"), exc=exc))
        ) from None
    finally:
        file.seek(0)
    if unpacked > limit:
        raise _xlsx_refused(
            "file_too_large", f"the workbook unpacks to {unpacked:,} bytes, more than {limit:,} (XLSX_MAX_UNCOMPRESSED_BYTES)"
        )


def xlsx_rows(file: IO[bytes], *, progress: JobProgress | None = None) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """Header and rows of the first sheet, within XLSX_MAX_ROWS rows and XLSX_MAX_COLUMNS
    columns. openpyxl parses the XML with defusedxml (installed): a workbook that declares
    entities (billion laughs, external entities) is refused, never expanded."""
    from defusedxml import DefusedXmlException
    from openpyxl import load_workbook

    max_rows, max_columns = int(settings.XLSX_MAX_ROWS), int(settings.XLSX_MAX_COLUMNS)
    _xlsx_check_archive(file)
    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        # One column past the limit is read, to tell a too-wide sheet; cells beyond are not kept.
        rows = sheet.iter_rows(values_only=True, max_col=max_columns + 1)
        first = next(rows, ())
    except Exception as exc:  # noqa: BLE001 - anything openpyxl raises means "not an xlsx"
        forbidden = _chain_has(exc, DefusedXmlException)
        if forbidden is not None:
            raise _xlsx_refused("xml_forbidden", f"the workbook's XML declares entities, which are refused: {forbidden!r}") from None
        raise format_error(format_lazy(_("the file is not an XLSX workbook ({exc})"), exc=exc)) from None
    if progress is not None and sheet.max_row:
        progress.total = max(int(sheet.max_row) - 1, 0)  # the sheet's stated size, in rows
    header = [str(c).strip() if c is not None else "" for c in first]
    while header and header[-1] == "":
        header.pop()
    if len(header) > max_columns:
        workbook.close()
        raise _xlsx_refused("too_many_columns", f"the sheet has more than {max_columns} columns (XLSX_MAX_COLUMNS)", line=1)

    def body() -> Iterator[tuple[int, list[Any]]]:
        number = 1
        try:
            for number, values in enumerate(rows, start=2):
                if number > max_rows + 1:  # + the header row
                    raise _xlsx_refused("too_many_rows", f"the sheet has more than {max_rows:,} rows (XLSX_MAX_ROWS)", line=number)
                cells = [_cell(v) for v in values[: len(header)]]
                if not any(c not in (None, "") for c in cells):
                    continue
                yield number, cells + [None] * (len(header) - len(cells))
        except BulkFileRejected:
            raise
        except Exception as exc:  # noqa: BLE001 - a sheet that stops parsing is not an xlsx we can read
            forbidden = _chain_has(exc, DefusedXmlException)
            if forbidden is not None:
                raise _xlsx_refused(
                    "xml_forbidden", f"the sheet's XML declares entities, which are refused: {forbidden!r}", line=number
                ) from None
            raise _xlsx_refused("format", f"the sheet is not readable after row {number}: {exc}", line=number) from None
        finally:
            workbook.close()

    return header, body()


def _counting(rows: Iterator[tuple[int, list[Any]]], progress: JobProgress) -> Iterator[tuple[int, list[Any]]]:
    for count, row in enumerate(rows, start=1):
        if count % 5000 == 0:
            progress(count)
        yield row


class _Utf8Reader:
    """A file-like ``read`` over the checked file, re-encoded to UTF-8 (what ijson parses)."""

    def __init__(self, file: IO[bytes]) -> None:
        stream = CheckedStream(file)
        self._chunks = self._utf8(stream)
        self._buffer = b""

    @staticmethod
    def _utf8(stream: CheckedStream) -> Iterator[bytes]:
        if codecs.lookup(stream.encoding.python).name == "utf-8":
            yield from stream.chunks()  # the BOM is already skipped
            return
        decoder = codecs.getincrementaldecoder(stream.encoding.python)("strict")
        for chunk in stream.chunks():
            yield decoder.decode(chunk).encode("utf-8")
        yield decoder.decode(b"", final=True).encode("utf-8")

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


class _Node:
    """A category node while it is being read: its code may come after its medicines."""

    __slots__ = ("code", "ended", "parent")

    def __init__(self, parent: _Node | None) -> None:
        self.parent = parent
        self.code: str | None = None  # None: not seen yet; "": seen but empty (the parent's applies)
        self.ended = False


def _leaf_code(node: _Node | None) -> str | None:
    """The code a node's medicines are filed under (its own, else its nearest ancestor's), or
    None while a node on the way may still name its code."""
    while node is not None:
        if node.code:
            return node.code
        if node.code is None and not node.ended:
            return None
        node = node.parent
    return ""


def _nrdl_records(file: IO[bytes]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(leaf category code, medicine) in document order, read as a stream (ijson): memory holds
    one medicine at a time (plus, for a node whose ``code`` key comes after its medicines, those
    medicines until it does), and nesting deeper than ``IMPORT_JSON_MAX_DEPTH`` is a row error,
    never a RecursionError.

    Accepted shape (UTF-8 / BOM / GB18030)::

        {"name": "...2024年...", "categories": [            (or the list itself)
          {"code": "XA", "name": "消化道及代谢", "children": [
            {"code": "XA02", "name": "...", "children": [
              {"code": "XA02BC", "name": "质子泵抑制剂", "medicines": [
                {"code": "XA02BCA211A001010101445", "name": "奥美拉唑肠溶胶囊",
                 "category": "甲", "dosage_form": "...", "restriction": "...", ...}]}]}]}]}

    A medicine's keys are the canonical column names (``restriction``, ``payment_category``
    and ``form`` are accepted as aliases); ``category`` may be 甲/乙/丙 or 01/02/03.
    """
    import ijson

    max_depth = int(settings.IMPORT_JSON_MAX_DEPTH)
    ready: deque[tuple[_Node, dict[str, Any]]] = deque()
    count = 0  # medicines seen, for the line of an error
    # Frames: [kind, node, pending key]; kinds: doc, root, nodes, node, meds, med, skip.
    stack: list[list[Any]] = [["doc", None, None]]
    builder: Any = None
    skip_depth = 0
    depth = 0

    def flush() -> Iterator[tuple[str, dict[str, Any]]]:
        while ready:
            code = _leaf_code(ready[0][0])
            if code is None:
                return
            _node, medicine = ready.popleft()
            yield code, medicine

    try:
        for event, value in ijson.basic_parse(_Utf8Reader(file), use_float=True):
            opening, closing = event in ("start_map", "start_array"), event in ("end_map", "end_array")
            if opening:
                depth += 1
                if depth > max_depth:
                    raise BulkFileRejected(
                        format_lazy(_("the JSON is nested deeper than {max_depth} levels"), max_depth=max_depth),
                        errors=[
                            row_error(
                                line=_line(count, stack),
                                column="",
                                code="malformed_row",
                                message=format_lazy(_("nested deeper than {max_depth} levels"), max_depth=max_depth),
                            )
                        ],
                    )
            elif closing:
                depth -= 1
            frame = stack[-1]
            kind = frame[0]
            if kind == "skip":
                skip_depth += 1 if opening else -1 if closing else 0
                if skip_depth == 0:
                    stack.pop()
                continue
            if kind == "med":
                builder.event(event, value)
                if closing and depth == frame[2]:
                    stack.pop()
                    ready.append((frame[1], builder.value))
                    yield from flush()
                continue
            if event == "map_key" and kind in ("root", "node"):
                frame[2] = value
                continue
            if closing:  # the end of this frame's own container
                stack.pop()
                if kind == "node":
                    frame[1].ended = True
                    yield from flush()
                continue
            key, frame[2] = frame[2], None
            target: list[Any] | None = None
            if kind == "doc":
                if event == "start_map":
                    target = ["root", None, None]
                elif event == "start_array":
                    target = ["nodes", None, None]
                else:
                    raise _no_category_tree()
            elif kind == "root" and key == "categories":
                if event != "start_array":
                    raise _no_category_tree()
                target = ["nodes", None, None]
            elif kind == "nodes" and event == "start_map":
                target = ["node", _Node(frame[1]), None]
            elif kind == "node" and key == "code" and not opening:
                if frame[1].code is None:
                    frame[1].code = str(value) if value not in (None, "", False, 0) else ""
                    yield from flush()
                continue
            elif kind == "node" and key == "children" and event == "start_array":
                target = ["nodes", frame[1], None]
            elif kind == "node" and key == "medicines" and event == "start_array":
                target = ["meds", frame[1], None]
            elif kind == "meds":
                count += 1
                if event == "start_map":
                    builder = ijson.ObjectBuilder()
                    builder.event(event, value)
                    target = ["med", frame[1], depth - 1]
                else:  # not an object: a row with nothing in it, as before
                    ready.append((frame[1], {}))
                    yield from flush()
                    if opening:
                        target = ["skip", None, None]
            if target is not None:
                if target[0] == "skip":
                    skip_depth = 1
                stack.append(target)
            elif opening:  # a value nobody reads: skip it whole
                skip_depth = 1
                stack.append(["skip", None, None])
    except ijson.JSONError as exc:
        raise BulkFileRejected(
            _("the file is not JSON"),
            errors=[
                row_error(
                    line=_line(count, stack),
                    column="",
                    code="malformed_row",
                    message=format_lazy(_("not JSON: {line}"), line=str(exc).splitlines()[0]),
                )
            ],
        ) from None
    yield from flush()


def _line(count: int, stack: list[list[Any]]) -> int:
    """The record an error belongs to: the medicine being read, else the next one."""
    return count if any(frame[0] == "med" for frame in stack) else count + 1


def _no_category_tree() -> BulkFileRejected:
    return BulkFileRejected(
        _("no category tree"), errors=[row_error(line=0, column="categories", code="missing_field", message=_("no categories list"))]
    )


def nrdl_rows(file: IO[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(record index from 1, canonical values + ``classification``) for every medicine."""
    for index, (leaf, medicine) in enumerate(_nrdl_records(file), start=1):
        values: dict[str, Any] = {}
        for key, value in medicine.items():
            values[NRDL_ALIASES.get(key, key)] = value
        category = values.get("category")
        if isinstance(category, str):
            values["category"] = PAYMENT_CATEGORY_WORDS.get(category.strip(), category)
        if isinstance(values.get("replaces"), list):
            values["replaces"] = ";".join(str(c) for c in values["replaces"])
        values["classification"] = leaf
        yield index, values


def _check_json_format(file: IO[bytes]) -> None:
    head = _head(file)
    found = _what_it_is(head)
    if found is not None and found[1] != NRDL_JSON:
        raise _wrong_format(NRDL_JSON, *found)
    if found is None and head.strip():
        raise format_error(
            format_lazy(_("the file is not JSON (it does not start with {{ or [), not {NRDL_JSON}; is it a CSV file?"), NRDL_JSON=NRDL_JSON)
        )


def read_nrdl_json(file: IO[bytes], progress: JobProgress) -> Source:
    _check_json_format(file)
    columns = [*NRDL_KEYS, "classification"]
    staging = staging_create(table=STAGING_TABLE, columns=columns)
    rows = ((line, [_cell(values.get(c)) for c in columns]) for line, values in nrdl_rows(file))
    staging_write_rows(staging=staging, rows=_counting(rows, progress))
    source = Source(staging=staging, fields={name: (f"s.{staging.col(name)}", name) for name in NRDL_KEYS}, encoding="json")
    source.extra["classification"] = f"upper(btrim(s.{staging.col('classification')}))"
    source.checks.append(
        "SELECT n.line, 'code', 'code_format', "
        + sql_text(
            _("code {code} is filed under {classification} but its classification is {own}"),
            code="n.code",
            classification="n.classification",
            own="left(n.code, 6)",
        )
        + " FROM import_items n "
        "WHERE n.kind = 'drug' AND n.classification <> '' AND left(n.code, length(n.classification)) <> n.classification"
    )
    source.checks.append(
        "SELECT n.line, 'code', 'code_format', "
        + sql_text(_("code {code} is a {kind} code; the drug list holds drugs only"), code="n.code", kind=sql_label("n.kind", ItemKind))
        + " FROM import_items n WHERE n.kind IS NOT NULL AND n.kind <> 'drug'"
    )
    return source


_CSV_LAYOUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    CANONICAL_CSV: (CANONICAL_COLUMNS, REQUIRED),
    NHSA_CONSUMABLES_CSV: (NHSA_COLUMNS + NHSA_OPTIONAL, NHSA_COLUMNS),
}

READERS: dict[str, Callable[[IO[bytes], JobProgress], Source]] = {
    CANONICAL_CSV: read_canonical_csv,
    NHSA_CONSUMABLES_CSV: read_nhsa_consumables_csv,
    NRDL_JSON: read_nrdl_json,
    XLSX: read_xlsx,
}
