"""Release export files: canonical CSV and JSON Lines, gzip-compressed, built once at publish.

On PostgreSQL the rows come straight from ``COPY ... TO STDOUT`` and are streamed through
SHA-256 and gzip, so a 500,000-item release never becomes 500,000 Python objects. The SHA-256
in the manifest is of the uncompressed canonical CSV; each file also carries its own SHA-256.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection

from .models import CANONICAL_COLUMNS, ITEM_CONTENT_FIELDS, ITEM_TEXT_FIELDS, CatalogItem, CatalogRelease

# Text cells that start with one of these are read as formulas by spreadsheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_TEXT_COLUMNS = ITEM_TEXT_FIELDS
GZIP_LEVEL = 1  # files are fetched many times but built on the publish path: favour speed


def neutralise_formula(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _csv_select(release_id: int) -> str:
    cols = []
    for column in CANONICAL_COLUMNS:
        if column in _TEXT_COLUMNS:
            cols.append(f"CASE WHEN left({column}, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r') THEN '''' || {column} ELSE {column} END")
        elif column == "replaces":
            cols.append("array_to_string(ARRAY(SELECT jsonb_array_elements_text(replaces)), ';')")
        else:
            cols.append(column)
    return f"SELECT {', '.join(cols)} FROM catalog_catalogitem WHERE release_id = {int(release_id)} ORDER BY code"


def _jsonl_select(release_id: int) -> str:
    pairs = ", ".join(f"'{c}', {c}::text" if c == "self_pay_ratio" else f"'{c}', {c}" for c in CANONICAL_COLUMNS)
    return f"SELECT json_build_object({pairs})::text FROM catalog_catalogitem WHERE release_id = {int(release_id)} ORDER BY code"


def _copy_chunks(sql: str, options: str) -> Iterator[bytes]:
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg 3 cursor under Django's wrapper
        with raw.copy(f"COPY ({sql}) TO STDOUT WITH ({options})") as copy:
            for chunk in copy:
                yield bytes(chunk)


def csv_chunks(release: CatalogRelease) -> Iterator[bytes]:
    """The canonical CSV (header + rows ordered by code) as byte chunks."""
    if connection.vendor == "postgresql":
        yield from _copy_chunks(_csv_select(release.pk), "FORMAT csv, HEADER true")
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CANONICAL_COLUMNS)
    for row in _python_rows(release):
        writer.writerow(_csv_cells(row))
    yield buffer.getvalue().encode()


def jsonl_chunks(release: CatalogRelease) -> Iterator[bytes]:
    """One JSON object per item per line, ordered by code."""
    if connection.vendor == "postgresql":
        # CSV format with quote/delimiter bytes that never occur in JSON text: rows come out raw.
        yield from _copy_chunks(_jsonl_select(release.pk), "FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02'")
        return
    lines = (json.dumps(row, ensure_ascii=False, separators=(", ", " : ")) + "\n" for row in _python_rows(release))
    yield "".join(lines).encode()


def _python_rows(release: CatalogRelease) -> Iterator[dict[str, Any]]:
    for values in CatalogItem.objects.filter(release=release).order_by("code").values(*CANONICAL_COLUMNS).iterator():
        if values["self_pay_ratio"] is not None:
            values["self_pay_ratio"] = str(values["self_pay_ratio"])
        yield values


def _csv_cells(row: dict[str, Any]) -> list[Any]:
    cells: list[Any] = []
    for column in CANONICAL_COLUMNS:
        value = row[column]
        if column in _TEXT_COLUMNS:
            value = neutralise_formula(value)
        elif column == "replaces":
            value = ";".join(value)
        cells.append("" if value is None else value)
    return cells


def export_path(release: CatalogRelease, fmt: str) -> str:
    suffix = {"csv_gz": "csv.gz", "jsonl_gz": "jsonl.gz"}[fmt]
    return f"exports/{release.label}/export.{suffix}"


def build_exports(release: CatalogRelease) -> tuple[str, dict[str, dict[str, Any]]]:
    """Write both files; returns (sha256 of the uncompressed CSV, exports manifest)."""
    canonical = hashlib.sha256()
    manifest = {
        "csv_gz": _write_gzip(release, "csv_gz", csv_chunks(release), also=canonical),
        "jsonl_gz": _write_gzip(release, "jsonl_gz", jsonl_chunks(release)),
    }
    return canonical.hexdigest(), manifest


class _HashingFile(io.RawIOBase):
    """A write-only file that hashes what passes through it on the way to disk."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self.sha256 = hashlib.sha256()
        self.bytes = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.sha256.update(data)
        self.bytes += len(data)
        return int(self._target.write(data))


def _write_gzip(release: CatalogRelease, fmt: str, chunks: Iterator[bytes], also: Any = None) -> dict[str, Any]:
    name = export_path(release, fmt)
    target = Path(settings.MEDIA_ROOT) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".partial")
    with tmp.open("wb") as raw:
        hashing = _HashingFile(raw)
        with gzip.GzipFile(filename="", mode="wb", fileobj=hashing, compresslevel=GZIP_LEVEL, mtime=0) as gz:
            for chunk in chunks:
                if also is not None:
                    also.update(chunk)
                gz.write(chunk)
    tmp.replace(target)
    return {"path": name, "sha256": hashing.sha256.hexdigest(), "bytes": hashing.bytes}


def open_export(release: CatalogRelease, fmt: str) -> Any:
    return default_storage.open(release.exports[fmt]["path"], "rb")


__all__ = ["ITEM_CONTENT_FIELDS", "build_exports", "csv_chunks", "jsonl_chunks", "neutralise_formula", "open_export"]
