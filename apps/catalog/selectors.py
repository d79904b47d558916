"""Reads on the catalog: the release in force, diffs, look-ups by code and date."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet

from .models import ITEM_CONTENT_FIELDS, CatalogItem, CatalogRelease, ReleaseChange

DiffRow = dict[str, Any]


def published_releases() -> QuerySet[CatalogRelease]:
    return CatalogRelease.objects.filter(status=CatalogRelease.Status.PUBLISHED)


def release_in_force(*, on_date: dt.date) -> CatalogRelease | None:
    """The published release with the latest effective_from on or before ``on_date``."""
    return published_releases().filter(effective_from__lte=on_date).order_by("-effective_from").first()


def release_previous(*, release: CatalogRelease) -> CatalogRelease | None:
    """The published release this one follows in effective-date order."""
    return published_releases().filter(effective_from__lt=release.effective_from).exclude(pk=release.pk).order_by("-effective_from").first()


def item_as_dict(item: CatalogItem) -> dict[str, Any]:
    return {"code": item.code, **{f: _jsonable(getattr(item, f)) for f in ITEM_CONTENT_FIELDS}}


def _jsonable(value: Any) -> Any:
    # Decimals travel as strings (as DRF renders them), so diffs and API agree.
    from decimal import Decimal

    return str(value) if isinstance(value, Decimal) else value


def catalog_diff(*, old: CatalogRelease | None, new: CatalogRelease) -> dict[str, Any]:
    """What changed from ``old`` to ``new``.

    ``added`` carries whole items, ``changed`` the changed fields as [old, new], ``removed`` the
    codes gone without successor, ``retired`` the codes gone with successors (items of ``new``
    whose ``replaces`` names them). Applying the result to ``old`` yields ``new``.
    """
    if old is not None and old.pk == new.pk:
        rows: list[DiffRow] = []
    elif new.previous_id is not None and old is not None and new.previous_id == old.pk and new.is_published:
        rows = [dict(r) for r in ReleaseChange.objects.filter(release=new).values("code", "change", "fields", "successors")]
    else:
        rows = compute_diff_rows(old_id=old.pk if old else None, new_id=new.pk)
    return diff_from_rows(rows, new=new)


def diff_from_rows(rows: list[DiffRow], *, new: CatalogRelease) -> dict[str, Any]:
    added_codes = [r["code"] for r in rows if r["change"] == "added"]
    added = [item_as_dict(i) for i in CatalogItem.objects.filter(release=new, code__in=added_codes).order_by("code")]
    changed = [{"code": r["code"], "fields": r["fields"]} for r in rows if r["change"] == "changed"]
    removed = [r["code"] for r in rows if r["change"] == "removed"]
    retired = [{"code": r["code"], "successors": r["successors"]} for r in rows if r["change"] == "retired"]
    counts = {"added": len(added), "removed": len(removed), "changed": len(changed), "retired": len(retired)}
    return {"added": added, "removed": removed, "changed": changed, "retired": retired, "counts": counts}


def compute_diff_rows(*, old_id: int | None, new_id: int) -> list[DiffRow]:
    """Diff rows {code, change, fields, successors}, computed set-based in PostgreSQL."""
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(DIFF_SETTINGS_SQL)
            cursor.execute(DIFF_SQL, {"old": old_id if old_id is not None else -1, "new": new_id})
            # Django leaves jsonb undecoded on raw cursors; JSONField decodes it for the ORM.
            return [
                {"code": code, "change": change, "fields": _json(fields, {}), "successors": _json(successors, [])}
                for code, change, fields, successors in cursor.fetchall()
            ]
    return _compute_diff_rows_in_python(old_id=old_id, new_id=new_id)


# Room for the 500k-row hash join; and no JIT: the planner over-estimates the changed rows and
# would spend ~0.4 s compiling the wide field-comparison expression for a few thousand rows.
DIFF_SETTINGS_SQL = "SET LOCAL work_mem = '256MB'; SET LOCAL jit = off"


def _json(value: Any, empty: Any) -> Any:
    if value is None:
        return empty
    return json.loads(value) if isinstance(value, str) else value


def _sql_value(field: str, alias: str) -> str:
    # numeric as text so JSON carries "0.1000" exactly as the API renders it
    return f"{alias}.{field}::text" if field == "self_pay_ratio" else f"{alias}.{field}"


_FIELD_PAIRS = ",\n".join(
    f"'{f}', CASE WHEN o.{f} IS DISTINCT FROM n.{f} THEN jsonb_build_array({_sql_value(f, 'o')}, {_sql_value(f, 'n')}) END"
    for f in ITEM_CONTENT_FIELDS
)

DIFF_SQL = f"""
WITH o AS NOT MATERIALIZED (SELECT id, code, content_hash FROM catalog_catalogitem WHERE release_id = %(old)s),
     n AS NOT MATERIALIZED (SELECT id, code, content_hash FROM catalog_catalogitem WHERE release_id = %(new)s),
     d AS (
         SELECT o.id AS old_id, n.id AS new_id, coalesce(n.code, o.code) AS code
         FROM o FULL JOIN n ON o.code = n.code
         WHERE o.id IS NULL OR n.id IS NULL OR o.content_hash <> n.content_hash
     ),
     succ AS (
         SELECT r.old_code, jsonb_agg(s.code ORDER BY s.code) AS successors
         FROM catalog_catalogitem s CROSS JOIN LATERAL jsonb_array_elements_text(s.replaces) AS r(old_code)
         WHERE s.release_id = %(new)s AND s.replaces <> '[]'::jsonb
         GROUP BY r.old_code
     )
SELECT d.code,
       CASE WHEN d.old_id IS NULL THEN 'added'
            WHEN d.new_id IS NULL AND succ.successors IS NOT NULL THEN 'retired'
            WHEN d.new_id IS NULL THEN 'removed'
            ELSE 'changed' END AS change,
       CASE WHEN o.id IS NOT NULL AND n.id IS NOT NULL
            THEN jsonb_strip_nulls(jsonb_build_object({_FIELD_PAIRS})) END AS fields,
       CASE WHEN d.new_id IS NULL THEN succ.successors END AS successors
FROM d
-- LATERAL + OFFSET 0 (a planner fence): whole rows are read by primary key, only for changed codes
LEFT JOIN LATERAL (SELECT * FROM catalog_catalogitem WHERE id = d.old_id AND d.new_id IS NOT NULL OFFSET 0) o ON true
LEFT JOIN LATERAL (SELECT * FROM catalog_catalogitem WHERE id = d.new_id AND d.old_id IS NOT NULL OFFSET 0) n ON true
LEFT JOIN succ ON d.new_id IS NULL AND succ.old_code = d.code
ORDER BY 1
"""


def _compute_diff_rows_in_python(*, old_id: int | None, new_id: int) -> list[DiffRow]:
    """The same diff for databases without the SQL path (the SQLite demo)."""

    def load(release_id: int | None) -> dict[str, dict[str, Any]]:
        if release_id is None:
            return {}
        return {i.code: item_as_dict(i) for i in CatalogItem.objects.filter(release_id=release_id)}

    old, new = load(old_id), load(new_id)
    successors: dict[str, list[str]] = {}
    for code, item in new.items():
        for replaced in item["replaces"]:
            successors.setdefault(replaced, []).append(code)
    rows: list[DiffRow] = []
    for code in sorted(old.keys() | new.keys()):
        before, after = old.get(code), new.get(code)
        if before is None:
            rows.append({"code": code, "change": "added", "fields": {}, "successors": []})
        elif after is None:
            succ = sorted(successors.get(code, []))
            rows.append({"code": code, "change": "retired" if succ else "removed", "fields": {}, "successors": succ})
        else:
            fields = {f: [before[f], after[f]] for f in ITEM_CONTENT_FIELDS if before[f] != after[f]}
            if fields:
                rows.append({"code": code, "change": "changed", "fields": fields, "successors": []})
    return rows


def item_lookup(*, code: str, on_date: dt.date) -> dict[str, Any] | None:
    """The item ``code`` as in force on ``on_date``.

    Returns {"status": "active", "item", "release"} for a live code or a former code (alias) of a
    live item, {"status": "retired", "retired_in", "successors"} for a code that existed earlier
    and is gone, or None for a code never seen (nor known as a former code) up to that date.
    """
    release = release_in_force(on_date=on_date)
    if release is None:
        return None
    item = CatalogItem.objects.filter(release=release, code=code).first()
    if item is not None:
        return {"status": "active", "item": item, "release": release}
    earlier = (
        CatalogItem.objects.filter(code=code, release__in=published_releases().filter(effective_from__lt=release.effective_from))
        .select_related("release")
        .order_by("-release__effective_from")
        .first()
    )
    replacing = items_replacing(release=release, code=code)
    if earlier is None:
        if len(replacing) == 1:
            return {"status": "active", "item": replacing[0], "release": release, "former_code": code}
        if not replacing:
            return None
    retired_in = (
        published_releases()
        .filter(effective_from__gt=earlier.release.effective_from if earlier else dt.date.min, effective_from__lte=on_date)
        .order_by("effective_from")
        .first()
    )
    return {
        "status": "retired",
        "retired_in": retired_in,
        "successors": [i.code for i in replacing],
        "release": release,
    }


def items_replacing(*, release: CatalogRelease, code: str) -> list[CatalogItem]:
    """Items of ``release`` whose ``replaces`` names ``code`` (GIN-indexed on PostgreSQL)."""
    items = CatalogItem.objects.filter(release=release).order_by("code")
    if connection.vendor == "postgresql":
        return list(items.filter(replaces__contains=[code]))
    return [i for i in items.exclude(replaces=[]) if code in i.replaces]


def counts_by_kind(*, release: CatalogRelease) -> dict[str, int]:
    if release.counts:
        return dict(release.counts["by_kind"])
    from django.db.models import Count

    counts = dict.fromkeys(("drug", "tcm_piece", "service", "consumable"), 0)
    for row in CatalogItem.objects.filter(release=release).values("kind").annotate(n=Count("id")).order_by():
        counts[row["kind"]] = row["n"]
    return counts
