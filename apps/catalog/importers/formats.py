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

import datetime as dt
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from django.conf import settings

from apps.core.bulk import (
    BulkFileRejected,
    CheckedStream,
    JobProgress,
    Staging,
    row_error,
    staging_copy_csv,
    staging_create,
    staging_write_rows,
)

from ..models import CANONICAL_COLUMNS

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


def _header_errors(header: list[str], *, allowed: tuple[str, ...], required: tuple[str, ...]) -> list[dict[str, Any]]:
    errors = []
    seen: set[str] = set()
    for name in header:
        if name not in allowed:
            errors.append(row_error(line=1, column=name, code="unknown_column", message=f"column {name!r} is not part of this layout"))
        elif name in seen:
            errors.append(row_error(line=1, column=name, code="duplicate_column", message=f"column {name!r} appears twice"))
        seen.add(name)
    for name in required:
        if name not in header:
            errors.append(row_error(line=1, column=name, code="missing_field", message=f"the header lacks the required column {name!r}"))
    return errors


def _reject_header(errors: list[dict[str, Any]]) -> None:
    if errors:
        raise BulkFileRejected("the header row does not match the layout", errors=errors)


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


def _csv_source(file: IO[bytes], progress: JobProgress, *, allowed: tuple[str, ...], required: tuple[str, ...]) -> tuple[Source, Staging]:
    stream = CheckedStream(file, on_progress=progress)
    header, body = stream.split_header()
    _reject_header(_header_errors(header, allowed=allowed, required=required))
    staging = staging_create(table=STAGING_TABLE, columns=header)
    staging_copy_csv(staging=staging, stream=stream, body=body)
    return Source(staging=staging, fields={}, encoding=stream.encoding.label), staging


def read_canonical_csv(file: IO[bytes], progress: JobProgress) -> Source:
    source, staging = _csv_source(file, progress, allowed=CANONICAL_COLUMNS, required=REQUIRED)
    source.fields = {name: (f"s.{staging.col(name)}", name) for name in staging.columns}
    return source


def read_nhsa_consumables_csv(file: IO[bytes], progress: JobProgress) -> Source:
    source, staging = _csv_source(file, progress, allowed=NHSA_COLUMNS + NHSA_OPTIONAL, required=NHSA_COLUMNS)
    fields = {}
    for item_field, column in NHSA_FIELDS.items():
        col = staging.col(column)
        if col is None:
            fields[item_field] = (_lit(consumable_default_category()), column)
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
            f"SELECT n.line, {_lit(column)}, 'code_format', 'code ' || n.code || ' is filed under {column} ' || n.{name} || "
            f"' but its digits {start}-{start + 1} are ' || substr(n.code, {start}, 2) FROM import_items n "
            f"WHERE n.kind = 'consumable' AND n.{name} IS NOT NULL AND n.{name} <> substr(n.code, {start}, 2)"
        )
    source.checks.append(
        "SELECT n.line, 'id', 'code_format', 'code ' || n.code || ' is a ' || n.kind || ' code; this list holds consumables only' "
        "FROM import_items n WHERE n.kind IS NOT NULL AND n.kind <> 'consumable'"
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
    header, rows = xlsx_rows(file)
    _reject_header(_header_errors(header, allowed=CANONICAL_COLUMNS, required=REQUIRED))
    staging = staging_create(table=STAGING_TABLE, columns=header)
    staging_write_rows(staging=staging, rows=_counting(rows, progress))
    return Source(staging=staging, fields={name: (f"s.{staging.col(name)}", name) for name in header}, encoding="xlsx")


def xlsx_rows(file: IO[bytes]) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - anything openpyxl raises means "not an xlsx"
        raise BulkFileRejected(
            "the file is not an XLSX workbook",
            errors=[row_error(line=0, column="", code="encoding", message=f"not an XLSX workbook: {exc}")],
        ) from None
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    first = next(rows, ())
    header = [str(c).strip() if c is not None else "" for c in first]
    while header and header[-1] == "":
        header.pop()

    def body() -> Iterator[tuple[int, list[Any]]]:
        for number, values in enumerate(rows, start=2):
            cells = [_cell(v) for v in values[: len(header)]]
            if not any(c not in (None, "") for c in cells):
                continue
            yield number, cells + [None] * (len(header) - len(cells))
        workbook.close()

    return header, body()


def _counting(rows: Iterator[tuple[int, list[Any]]], progress: JobProgress) -> Iterator[tuple[int, list[Any]]]:
    for count, row in enumerate(rows, start=1):
        if count % 5000 == 0:
            progress(count)
        yield row


def _nrdl_records(file: IO[bytes]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(leaf category code, medicine) in document order.

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
    raw = file.read()
    stream = CheckedStream(io.BytesIO(raw))
    text = b"".join(stream.chunks()).decode(stream.encoding.python)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BulkFileRejected(
            "the file is not JSON",
            errors=[row_error(line=exc.lineno, column="", code="malformed_row", message=f"not JSON: {exc.msg} (line {exc.lineno})")],
        ) from None
    roots = document.get("categories", []) if isinstance(document, dict) else document
    if not isinstance(roots, list):
        raise BulkFileRejected(
            "no category tree", errors=[row_error(line=0, column="categories", code="missing_field", message="no categories list")]
        )

    def walk(nodes: list[Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for node in nodes:
            if not isinstance(node, dict):
                continue
            code = str(node.get("code") or path)
            for medicine in node.get("medicines") or []:
                yield code, medicine if isinstance(medicine, dict) else {}
            yield from walk(node.get("children") or [], code)

    yield from walk(roots, "")


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


def read_nrdl_json(file: IO[bytes], progress: JobProgress) -> Source:
    columns = [*NRDL_KEYS, "classification"]
    staging = staging_create(table=STAGING_TABLE, columns=columns)
    rows = ((line, [_cell(values.get(c)) for c in columns]) for line, values in nrdl_rows(file))
    staging_write_rows(staging=staging, rows=_counting(rows, progress))
    source = Source(staging=staging, fields={name: (f"s.{staging.col(name)}", name) for name in NRDL_KEYS}, encoding="json")
    source.extra["classification"] = f"upper(btrim(s.{staging.col('classification')}))"
    source.checks.append(
        "SELECT n.line, 'code', 'code_format', 'code ' || n.code || ' is filed under ' || n.classification || "
        "' but its classification is ' || left(n.code, 6) FROM import_items n "
        "WHERE n.kind = 'drug' AND n.classification <> '' AND left(n.code, length(n.classification)) <> n.classification"
    )
    source.checks.append(
        "SELECT n.line, 'code', 'code_format', 'code ' || n.code || ' is a ' || n.kind || ' code; the drug list holds drugs only' "
        "FROM import_items n WHERE n.kind IS NOT NULL AND n.kind <> 'drug'"
    )
    return source


READERS: dict[str, Callable[[IO[bytes], JobProgress], Source]] = {
    CANONICAL_CSV: read_canonical_csv,
    NHSA_CONSUMABLES_CSV: read_nhsa_consumables_csv,
    NRDL_JSON: read_nrdl_json,
    XLSX: read_xlsx,
}
