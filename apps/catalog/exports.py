"""Release export files: canonical CSV and JSON Lines, gzip-compressed, built once at publish.

On PostgreSQL the rows come straight from ``COPY ... TO STDOUT`` and are streamed through
SHA-256 and gzip, so a 500,000-item release never becomes 500,000 Python objects. The SHA-256
in the manifest is of the uncompressed canonical CSV; each file also carries its own SHA-256.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection

from . import sql
from .models import ITEM_CONTENT_FIELDS, CatalogRelease

# Text cells that start with one of these are read as formulas by spreadsheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
GZIP_LEVEL = 1  # files are fetched many times but built on the publish path: favour speed


def neutralise_formula(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


CHUNK_BYTES = 1 << 20


def _copy_chunks(sql: str, options: str) -> Iterator[bytes]:
    """The COPY's output in chunks of about CHUNK_BYTES. psycopg hands COPY TO over one row at a
    time; passing 500,000 rows one by one through SHA-256 and gzip cost most of a publish
    (issue 22's profile), so rows are gathered first."""
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg 3 cursor under Django's wrapper
        with raw.copy(f"COPY ({sql}) TO STDOUT WITH ({options})") as copy:
            buffer = bytearray()
            for row in copy:
                buffer += row
                if len(buffer) >= CHUNK_BYTES:
                    yield bytes(buffer)
                    buffer.clear()
            if buffer:
                yield bytes(buffer)


def csv_chunks(release: CatalogRelease) -> Iterator[bytes]:
    """The canonical CSV (header + rows ordered by code) as byte chunks."""
    yield from _copy_chunks(sql.export_csv_select(release.pk), "FORMAT csv, HEADER true")


def jsonl_chunks(release: CatalogRelease) -> Iterator[bytes]:
    """One JSON object per item per line, ordered by code."""
    # CSV format with quote/delimiter bytes that never occur in JSON text: rows come out raw.
    yield from _copy_chunks(sql.export_jsonl_select(release.pk), "FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02'")


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

            def consume(chunk: bytes) -> None:
                if also is not None:
                    also.update(chunk)
                gz.write(chunk)

            # Compress and hash a chunk in a second thread while the next one is read from the
            # COPY (zlib and hashlib release the GIL on large buffers; psycopg while it waits for
            # the server), one chunk at a time so the file keeps the rows' order.
            with ThreadPoolExecutor(max_workers=1) as compressor:
                pending: Future[None] | None = None
                for chunk in chunks:
                    if pending is not None:
                        pending.result()
                    pending = compressor.submit(consume, chunk)
                if pending is not None:
                    pending.result()
    tmp.replace(target)
    return {"path": name, "sha256": hashing.sha256.hexdigest(), "bytes": hashing.bytes}


def open_export(release: CatalogRelease, fmt: str) -> Any:
    return default_storage.open(release.exports[fmt]["path"], "rb")


__all__ = ["ITEM_CONTENT_FIELDS", "build_exports", "csv_chunks", "jsonl_chunks", "neutralise_formula", "open_export"]
