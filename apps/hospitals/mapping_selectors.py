"""Reads on hospital code mappings (对码): each mapping's status against the release in force on a
date, how many mappings a release breaks per hospital, and the hospitals of a province whose
mappings a release breaks.

A mapping's status, against the release in force on the date (first that holds):

- ``ok``: its national code is an item of that release;
- ``retired``: the code was an item of an earlier release, or items of the release replace it
  (``successors``; also a former code that one item replaces: the mapping should name the item);
- ``not_in_force``: the code is an item only of a release published to take effect later;
- ``unknown``: never an item of any published release.

Catalog rows are reached through the catalog's exported fragments (apps.catalog.sql_fragments).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet

from apps.catalog import sql_fragments as catalog_sql
from apps.catalog.models import CatalogRelease
from apps.catalog.selectors import published_timeline

from .models import Hospital, MappingCheck

STATUSES = ("ok", "retired", "not_in_force", "unknown")
ISSUE_STATUSES = ("retired", "not_in_force", "unknown")

_STATUS_SQL = f"""
SELECT local_code, local_name, national_code, status, successors::text FROM (
    SELECT m.local_code, m.local_name, m.national_code,
           CASE WHEN cur.id IS NOT NULL THEN 'ok'
                WHEN prior.seen OR succ.codes IS NOT NULL THEN 'retired'
                WHEN later.seen THEN 'not_in_force'
                ELSE 'unknown' END AS status,
           coalesce(succ.codes, '[]'::jsonb) AS successors
    FROM hospitals_codemapping m
    {catalog_sql.item_in_release("cur", release_sql="%(release)s", code_sql="m.national_code")}
    {catalog_sql.successors_in_release("succ", release_sql="%(release)s", code_sql="m.national_code", when="cur.id IS NULL")}
    {catalog_sql.seen_in_releases("prior", releases_sql="%(earlier)s::bigint[]", code_sql="m.national_code", when="cur.id IS NULL")}
    {catalog_sql.seen_in_releases("later", releases_sql="%(later)s::bigint[]", code_sql="m.national_code", when="cur.id IS NULL")}
    WHERE m.hospital_id = %(hospital)s AND m.local_code > %(after)s
    ORDER BY m.local_code
) x
WHERE %(statuses)s::text[] IS NULL OR status = ANY(%(statuses)s::text[])
ORDER BY local_code
LIMIT %(n)s
"""

# Per hospital: its mappings and how many of them are not items of the release. One join of
# every mapping (of the hospitals named, or all) with the release's items, grouped.
ISSUE_COUNTS_SQL = f"""
SELECT m.hospital_id, count(*) AS total, count(*) FILTER (WHERE cur.id IS NULL) AS issues
FROM hospitals_codemapping m
{catalog_sql.item_in_release("cur", release_sql="%(release)s", code_sql="m.national_code")}
WHERE %(hospitals)s::bigint[] IS NULL OR m.hospital_id = ANY(%(hospitals)s::bigint[])
GROUP BY m.hospital_id
"""


@dataclass(frozen=True)
class MappingPage:
    rows: list[dict[str, Any]]
    next_after: str | None  # the cursor of the next page, or None


def encode_after(local_code: str) -> str:
    return base64.urlsafe_b64encode(local_code.encode()).decode().rstrip("=")


def decode_after(cursor: str) -> str | None:
    """The local code a cursor continues after, or None when it is not a cursor of ours."""
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _timeline_params(on_date: dt.date) -> dict[str, Any]:
    timeline = published_timeline()
    release = timeline.in_force(on_date)
    start = release.effective_from if release is not None else dt.date.min
    return {
        "release": release.pk if release is not None else -1,
        "earlier": [r.pk for r in timeline.releases if release is not None and r.effective_from < start],
        "later": [r.pk for r in timeline.releases if r.effective_from > on_date],
    }


def mappings_page(
    *, hospital_id: int, on_date: dt.date, statuses: Iterable[str] | None = None, after: str = "", size: int = 100
) -> MappingPage:
    """One page (by local code) of the hospital's mappings with their status on ``on_date``,
    optionally only those of ``statuses``. One statement."""
    wanted = list(statuses) if statuses else None
    params = {**_timeline_params(on_date), "hospital": hospital_id, "after": after, "statuses": wanted, "n": size + 1}
    with connection.cursor() as cursor:
        cursor.execute(_STATUS_SQL, params)
        fetched = cursor.fetchall()
    import json

    rows = [
        {"local_code": r[0], "local_name": r[1], "national_code": r[2], "status": r[3], "successors": json.loads(r[4])}
        for r in fetched[:size]
    ]
    return MappingPage(rows, encode_after(rows[-1]["local_code"]) if len(fetched) > size else None)


def issue_counts(*, release_id: int, hospital_ids: list[int] | None = None) -> dict[int, tuple[int, int]]:
    """{hospital id: (mappings, mappings the release breaks)} for hospitals with mappings."""
    with connection.cursor() as cursor:
        cursor.execute(ISSUE_COUNTS_SQL, {"release": release_id, "hospitals": hospital_ids})
        return {int(h): (int(total), int(issues)) for h, total, issues in cursor.fetchall()}


# For each (hospital, release) of a batch of notices: the stored check, else the count made now
# (only for a pair without a check, and only hospitals with mappings answer). One statement.
NOTICE_ISSUES_SQL = f"""
SELECT p.hospital_id, p.release_id, coalesce(c.issues, live.issues)
FROM unnest(%(hospitals)s::bigint[], %(releases)s::bigint[]) AS p(hospital_id, release_id)
LEFT JOIN hospitals_mappingcheck c ON c.hospital_id = p.hospital_id AND c.release_id = p.release_id
LEFT JOIN LATERAL (
    SELECT count(*) AS total, count(*) FILTER (WHERE cur.id IS NULL) AS issues
    FROM hospitals_codemapping m
    {catalog_sql.item_in_release("cur", release_sql="p.release_id", code_sql="m.national_code")}
    WHERE c.id IS NULL AND m.hospital_id = p.hospital_id
) live ON true
WHERE c.id IS NOT NULL OR live.total > 0
"""


# The hospitals of a batch that can have an answer at all: a stored check of the pair, or any
# mapping. A batch of hospitals that keep no mappings stops here, before NOTICE_ISSUES_SQL, whose
# plan spans every release's partition of the catalog (8 ms to plan at 38 releases, per batch).
_NOTICE_ISSUES_CANDIDATES_SQL = """
SELECT DISTINCT p.hospital_id
FROM unnest(%(hospitals)s::bigint[], %(releases)s::bigint[]) AS p(hospital_id, release_id)
WHERE EXISTS (SELECT 1 FROM hospitals_codemapping m WHERE m.hospital_id = p.hospital_id)
   OR EXISTS (SELECT 1 FROM hospitals_mappingcheck c WHERE c.hospital_id = p.hospital_id AND c.release_id = p.release_id)
"""


def mapping_issues_for_notices(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """How many mappings each (hospital, release) notice reports broken, for hospitals that have
    mappings: the stored check when the post-publish check has run, else counted now (so a
    notice sent before that check finished says the same). At most two statements."""
    wanted = sorted(set(pairs))
    if not wanted:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_NOTICE_ISSUES_CANDIDATES_SQL, _pair_params(wanted))
        candidates = {int(h) for (h,) in cursor.fetchall()}
    wanted = [(h, r) for h, r in wanted if h in candidates]
    if not wanted:
        return {}
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner prices the probes of every release's partition high enough to JIT-compile
        # the statement: about 90 ms a batch at 38 releases, where running it takes 2 ms.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(NOTICE_ISSUES_SQL, _pair_params(wanted))
        return {(int(h), int(r)): int(issues) for h, r, issues in cursor.fetchall()}


def _pair_params(pairs: list[tuple[int, int]]) -> dict[str, list[int]]:
    return {"hospitals": [h for h, _ in pairs], "releases": [r for _, r in pairs]}


def hospitals_with_broken_mappings(*, release: CatalogRelease, province_code: str = "") -> QuerySet[MappingCheck]:
    """The checks of ``release`` that found broken mappings, worst first, with their hospitals;
    only ``province_code``'s hospitals when given."""
    checks = MappingCheck.objects.filter(release=release, issues__gt=0).select_related("hospital", "hospital__province")
    if province_code:
        checks = checks.filter(hospital__province__code=province_code)
    return checks.order_by("-issues", "hospital__code")


def mapping_check_summary(*, release: CatalogRelease, province_code: str = "") -> dict[str, int]:
    """Hospitals checked against ``release`` and how many of them have broken mappings."""
    checks = MappingCheck.objects.filter(release=release)
    if province_code:
        checks = checks.filter(hospital__province__code=province_code)
    return {"checked": checks.count(), "broken": checks.filter(issues__gt=0).count()}


def hospital_of_province(*, code: str, province_code: str = "") -> Hospital | None:
    hospitals = Hospital.objects.select_related("province")
    if province_code:
        hospitals = hospitals.filter(province__code=province_code)
    return hospitals.filter(code=code).first()
