"""Bulk validation of codes on a date (``POST /api/v1/catalog/validate/``): for each code, in the
order given, whether it is an item of the release in force (``active``), a transitional local
item of the province in force that day (``local``), a code gone by that date (``retired``, with
the items replacing it, possibly none) or never seen (``unknown``).

Rules, first that holds wins (the pre-check's order: a national item wins over a local one):

1. ``active``: an item of the release in force on the date; also a former code (an alias, such
   as a 20-character drug code) that was never an item itself and that exactly one item of the
   release replaces, answered with that item (as the look-up does);
2. ``local``: a local item of the province with effective_from <= date < sunset_date;
3. ``retired``: an item of an earlier published release, or a code items of the release replace;
4. ``unknown``.

ONE statement whatever the number of codes (the codes travel as one text parameter, as in the
pre-check), and the answer is built as JSON by PostgreSQL: rendering 10,000 items in Python
would cost more than finding them. Catalog rows are reached through the catalog's exported
fragments (apps.catalog.sql_fragments).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, transaction

from apps.catalog import sql_fragments as catalog_sql
from apps.catalog.selectors import published_timeline

MAX_CODES = 10_000
CODE_SEPARATOR = "\x1f"

# The local item as the local-items feed renders it (LocalItemSerializer).
LOCAL_ITEM_JSON = (
    "json_build_object('province', %(province)s::text, 'code', li.code, 'name', li.name, 'category', li.category, "
    "'self_pay_ratio', li.self_pay_ratio::text, 'restriction_hospital_level', li.restriction_hospital_level, "
    "'effective_from', li.effective_from, 'sunset_date', li.sunset_date, 'national_code', li.national_code)"
)

_NOT_NATIONAL = "cur.id IS NULL AND li.id IS NULL"

VALIDATE_SQL = f"""
WITH input AS MATERIALIZED (
    SELECT t.code, t.ord FROM unnest(string_to_array(%(codes)s, chr(31))) WITH ORDINALITY AS t(code, ord)
),
succ AS MATERIALIZED ({catalog_sql.successor_map(release_sql="%(release)s")})
SELECT coalesce(json_agg(
    CASE WHEN cur.id IS NOT NULL THEN
              json_build_object('code', input.code, 'status', 'active', 'item', {catalog_sql.item_json("cur", release_label_sql="%(label)s::text")})
         WHEN li.id IS NOT NULL THEN
              json_build_object('code', input.code, 'status', 'local', 'local_item', {LOCAL_ITEM_JSON})
         WHEN prior.seen IS NULL AND alias.id IS NOT NULL AND jsonb_array_length(succ.codes) = 1 THEN
              json_build_object('code', input.code, 'status', 'active', 'item', {catalog_sql.item_json("alias", release_label_sql="%(label)s::text")})
         WHEN prior.seen OR succ.codes IS NOT NULL THEN
              json_build_object('code', input.code, 'status', 'retired', 'successors', coalesce(succ.codes, '[]'::jsonb))
         ELSE json_build_object('code', input.code, 'status', 'unknown')
    END ORDER BY input.ord), '[]')::text
FROM input
{catalog_sql.item_probe("cur", release_sql="%(release)s", code_sql="input.code")}
LEFT JOIN LATERAL (
    SELECT li.* FROM benefits_localitem li
    WHERE cur.id IS NULL AND li.province_id = %(province_id)s AND li.code = input.code
      AND li.effective_from <= %(on)s AND li.sunset_date > %(on)s
    ORDER BY li.id LIMIT 1
) li ON true
LEFT JOIN succ ON {_NOT_NATIONAL} AND succ.old_code = input.code
{catalog_sql.seen_in_releases("prior", releases_sql="%(earlier)s::bigint[]", code_sql="input.code", when=_NOT_NATIONAL)}
{catalog_sql.item_probe("alias", release_sql="%(release)s", code_sql="(succ.codes ->> 0)")}
"""


def codes_validate(*, codes: list[str], on_date: dt.date, province_code: str = "") -> dict[str, Any]:
    """``{"release": label | None, "results_json": JSON array text}`` for ``codes`` (already
    normalised; at most MAX_CODES) on ``on_date``; local items only of ``province_code`` ('' none)."""
    timeline = published_timeline()
    release = timeline.in_force(on_date)
    earlier = [r.pk for r in timeline.releases if release is not None and r.effective_from < release.effective_from]
    params: dict[str, Any] = {
        # Callers pass normalised, non-empty codes without control characters (the separator).
        "codes": CODE_SEPARATOR.join(codes),
        "release": release.pk if release is not None else -1,
        "label": release.label if release is not None else None,
        "earlier": earlier,
        "on": on_date,
        "province": province_code,
        "province_id": _province_id(province_code),
    }
    if not codes:
        return {"release": params["label"], "results_json": "[]"}
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner prices the per-code probes high enough to JIT-compile the statement, which
        # costs more (~0.6 s) than running it.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(VALIDATE_SQL, params)
        (results,) = cursor.fetchone()
    return {"release": params["label"], "results_json": results}


def _province_id(code: str) -> int:
    from .models import Province

    if not code:
        return -1
    found = Province.objects.filter(code=code).values_list("id", flat=True).first()
    return int(found) if found is not None else -1
