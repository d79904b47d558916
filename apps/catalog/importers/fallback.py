"""The SQLite path (demo only): the same rules through ``clean_item``, row by row.

Tests and production run on PostgreSQL and take the COPY + SQL path; the demo's files are
small, so per-row Python here is fine and keeps ``make run`` working without PostgreSQL.
"""

from __future__ import annotations

from typing import IO, Any

from apps.core.bulk import BulkFileRejected, row_error

from ..models import ITEM_CONTENT_FIELDS, CatalogItem, CatalogRelease
from ..validation import clean_item
from .formats import NHSA_CONSUMABLES_CSV, NRDL_JSON, python_rows


def _format_problems(fmt: str, data: dict[str, Any], clean: dict[str, Any]) -> list[dict[str, str]]:
    """The format-specific checks of formats.py (class digits, classification, kind)."""
    code, kind = clean.get("code", ""), clean.get("kind")
    problems = []
    if fmt == NHSA_CONSUMABLES_CSV and kind:
        if kind != "consumable":
            problems.append(
                {"field": "code", "code": "code_format", "message": f"code {code} is a {kind} code; this list holds consumables only"}
            )
        for column, start in (("primary", 1), ("secondary", 3), ("tertiary", 5)):
            digits = data.get(f"_{column}")
            if kind == "consumable" and digits is not None and digits != code[start : start + 2]:
                problems.append({"field": column, "code": "code_format", "message": f"code {code} is filed under {column} {digits}"})
    if fmt == NRDL_JSON and kind:
        leaf = str(data.get("classification") or "").upper()
        if kind != "drug":
            problems.append(
                {"field": "code", "code": "code_format", "message": f"code {code} is a {kind} code; the drug list holds drugs only"}
            )
        elif leaf and not code.startswith(leaf):
            problems.append({"field": "code", "code": "code_format", "message": f"code {code} is filed under {leaf}"})
    return problems


def import_rows_python(*, release: CatalogRelease, file: IO[bytes], fmt: str, mode: str, user: Any, reason: str) -> dict[str, Any]:
    rows, columns = python_rows(fmt, file)
    errors: list[dict[str, Any]] = []
    items: dict[str, dict[str, Any]] = {}
    lines: dict[str, int] = {}
    for line, data in rows:
        clean, problems = clean_item(data)
        problems += _format_problems(fmt, data, clean)
        for problem in problems:
            column = columns.get(problem["field"], problem["field"])
            errors.append(row_error(line=line, column=column, code=problem["code"], message=problem["message"]))
        code = clean.get("code", "")
        if code and code in items:
            errors.append(
                row_error(
                    line=line,
                    column=columns.get("code", "code"),
                    code="duplicate_code",
                    message=f"code {code} is also on line {lines[code]}",
                )
            )
        elif code and not problems:
            items[code] = clean
            lines[code] = line
    existing = {item.code: item for item in CatalogItem.objects.filter(release=release)}
    final_codes = set(items) | (set(existing) if mode == "merge" else set())
    for code, clean in items.items():
        for replaced in clean["replaces"]:
            if replaced in final_codes:
                errors.append(
                    row_error(
                        line=lines[code],
                        column=columns.get("replaces", "replaces"),
                        code="unknown_successor",
                        message=f"{replaced} is replaced by {code} but is still an item of the draft",
                    )
                )
    if errors:
        errors.sort(key=lambda e: (e["line"], e["column"], e["code"]))
        raise BulkFileRejected(f"{len(errors)} problem(s) in the file; nothing was imported", errors=errors)
    counts = {"added": 0, "changed": 0, "removed": 0}
    for code, clean in items.items():
        item = existing.get(code)
        if item is not None and all(getattr(item, f) == clean.get(f, getattr(item, f)) for f in ITEM_CONTENT_FIELDS):
            continue
        counts["changed" if item else "added"] += 1
        item = item or CatalogItem(release=release)
        for field, value in clean.items():
            setattr(item, field, value)
        item._history_user = user  # type: ignore[attr-defined]
        item._change_reason = reason  # type: ignore[attr-defined]
        item.save()
    if mode == "replace":
        for code, item in existing.items():
            if code not in items:
                item._history_user = user  # type: ignore[attr-defined]
                item._change_reason = reason  # type: ignore[attr-defined]
                item.delete()
                counts["removed"] += 1
    total = len(items)
    return {"rows": total, **counts, "unchanged": total - counts["added"] - counts["changed"], "format": fmt, "mode": mode, "encoding": ""}
