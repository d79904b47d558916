"""Reads on the catalog: the release in force, diffs, look-ups by code and date."""

from __future__ import annotations

import bisect
import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet

from apps.core.replica import read_connection

from .models import ITEM_CONTENT_FIELDS, CatalogItem, CatalogRelease, ReleaseChange
from .signals import release_published, release_publishing
from .sql import DIFF_SETTINGS_SQL, DIFF_SQL

DiffRow = dict[str, Any]


def published_releases() -> QuerySet[CatalogRelease]:
    return CatalogRelease.objects.filter(status=CatalogRelease.Status.PUBLISHED)


def release_in_force(*, on_date: dt.date) -> CatalogRelease | None:
    """The published release with the latest effective_from on or before ``on_date``."""
    return published_releases().filter(effective_from__lte=on_date).order_by("-effective_from").first()


def release_base_default(*, effective_from: dt.date) -> CatalogRelease | None:
    """What a new draft is based on unless told otherwise: the release in force when the draft
    takes effect (the last published release effective before ``effective_from``), which is also
    what its review compares it with, so a fresh draft shows no differences."""
    return published_releases().filter(effective_from__lt=effective_from).order_by("-effective_from").first()


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
    """Diff rows {code, change, fields, successors} in code order, computed set-based in PostgreSQL."""
    db = read_connection()  # the replica when a hospital's request reads from it
    with transaction.atomic(using=db.alias), db.cursor() as cursor:
        cursor.execute(DIFF_SETTINGS_SQL)
        cursor.execute(DIFF_SQL, {"old": old_id if old_id is not None else -1, "new": new_id})
        (document,) = cursor.fetchone() or (None,)
    rows: list[DiffRow] = json.loads(document) if document else []
    return rows


# --- the published timeline, cached ------------------------------------------------------
#
# Published releases are immutable and few, so the look-up path keeps them in process memory,
# ordered by effective date: "which release is in force on D" is then a bisect, not a query.
# A new publish is the only thing that changes the answer. It bumps a generation token in the
# shared cache (Redis in production, so every web process sees it): inside the publishing
# transaction (so that transaction reads its own publish) and again on commit (so no process
# keeps a list it loaded before the commit). TIMELINE_MAX_AGE bounds staleness should the
# shared cache be a per-process one.

TIMELINE_GENERATION_KEY = "catalog:published-timeline:generation"
TIMELINE_MAX_AGE = 60.0


@dataclass(frozen=True)
class PublishedTimeline:
    generation: str
    loaded_at: float
    releases: tuple[CatalogRelease, ...]  # by effective_from; shared: callers must not modify them
    dates: tuple[dt.date, ...]

    def in_force(self, on_date: dt.date) -> CatalogRelease | None:
        """The release with the latest effective_from on or before ``on_date``."""
        index = bisect.bisect_right(self.dates, on_date)
        return self.releases[index - 1] if index else None

    def first_after(self, after: dt.date, *, up_to: dt.date) -> CatalogRelease | None:
        """The earliest release effective after ``after`` and on or before ``up_to``."""
        index = bisect.bisect_right(self.dates, after)
        return self.releases[index] if index < len(self.dates) and self.dates[index] <= up_to else None


_timeline: PublishedTimeline | None = None


def published_timeline() -> PublishedTimeline:
    """Published releases ordered by effective date, from process memory while the shared
    generation token is unchanged (one cache read) and the list is younger than TIMELINE_MAX_AGE."""
    global _timeline
    generation = cache.get(TIMELINE_GENERATION_KEY)
    if generation is None:
        cache.add(TIMELINE_GENERATION_KEY, uuid.uuid4().hex, None)
        generation = cache.get(TIMELINE_GENERATION_KEY) or ""
    memo = _timeline
    now = time.monotonic()
    if memo is not None and memo.generation == generation and generation and now - memo.loaded_at < TIMELINE_MAX_AGE:
        return memo
    # The token is read before the rows: a publish committing in between bumps it again, so
    # a list that misses that publish is never kept under the token that follows it.
    releases = tuple(published_releases().order_by("effective_from"))
    memo = PublishedTimeline(generation, now, releases, tuple(r.effective_from for r in releases))
    _timeline = memo
    return memo


def forget_published_timeline(**kwargs: Any) -> None:
    """Invalidate every process's cached timeline (connected to the publish signals)."""
    global _timeline
    _timeline = None
    cache.set(TIMELINE_GENERATION_KEY, uuid.uuid4().hex, None)


release_publishing.connect(forget_published_timeline, dispatch_uid="catalog-timeline-publishing")
release_published.connect(forget_published_timeline, dispatch_uid="catalog-timeline-published")


def item_lookup(*, code: str, on_date: dt.date) -> dict[str, Any] | None:
    """The item ``code`` as in force on ``on_date``.

    Returns {"status": "active", "item", "release"} for a live code or a former code (alias) of a
    live item, {"status": "retired", "retired_in", "successors"} for a code that existed earlier
    and is gone, or None for a code never seen (nor known as a former code) up to that date.

    A live code costs one query (the release in force comes from ``published_timeline``).
    """
    timeline = published_timeline()
    release = timeline.in_force(on_date)
    if release is None:
        return None
    item = CatalogItem.objects.filter(release_id=release.pk, code=code).order_by()[:1]
    found = next(iter(item), None)
    if found is not None:
        found.release = release  # type: ignore[assignment]  # the cached instance: no query on .release
        return {"status": "active", "item": found, "release": release}
    earlier_ids = {r.pk: r for r in timeline.releases if r.effective_from < release.effective_from}
    earlier_release_ids = set(CatalogItem.objects.filter(code=code, release_id__in=list(earlier_ids)).values_list("release_id", flat=True))
    earlier = max((earlier_ids[pk] for pk in earlier_release_ids), key=lambda r: r.effective_from, default=None)
    replacing = items_replacing(release=release, code=code)
    if earlier is None:
        if len(replacing) == 1:
            return {"status": "active", "item": replacing[0], "release": release, "former_code": code}
        if not replacing:
            return None
    retired_in = timeline.first_after(earlier.effective_from if earlier else dt.date.min, up_to=on_date)
    return {
        "status": "retired",
        "retired_in": retired_in,
        "successors": [i.code for i in replacing],
        "release": release,
    }


def items_replacing(*, release: CatalogRelease, code: str) -> list[CatalogItem]:
    """Items of ``release`` whose ``replaces`` names ``code`` (``replaces @> [code]``, GIN-indexed)."""
    return list(CatalogItem.objects.filter(release=release, replaces__contains=[code]).order_by("code"))


def counts_by_kind(*, release: CatalogRelease) -> dict[str, int]:
    if release.counts:
        return dict(release.counts["by_kind"])
    from django.db.models import Count

    counts = dict.fromkeys(("drug", "tcm_piece", "service", "consumable"), 0)
    for row in CatalogItem.objects.filter(release=release).values("kind").annotate(n=Count("id")).order_by():
        counts[row["kind"]] = row["n"]
    return counts


# --- the review of a release: its diff, what it loses, paged and as CSV -----------------------

EMPTY_VALUES: tuple[Any, ...] = (None, "", [])


def release_diff_rows(*, release: CatalogRelease) -> tuple[CatalogRelease | None, list[DiffRow]]:
    """(the release it is compared with, diff rows {code, change, fields, successors} in code
    order): a published release's stored diff, else the draft against ``release_previous``."""
    previous = release.previous if release.is_published else release_previous(release=release)
    if release.is_published:
        stored = ReleaseChange.objects.filter(release=release).order_by("code")
        rows = [dict(r) for r in stored.values("code", "change", "fields", "successors")]
    else:
        rows = compute_diff_rows(old_id=previous.pk if previous else None, new_id=release.pk)
    return previous, rows


def cleared_fields(row: DiffRow) -> list[str]:
    """The fields a changed row empties (a value before, nothing after)."""
    return [name for name, (old, new) in (row.get("fields") or {}).items() if old not in EMPTY_VALUES and new in EMPTY_VALUES]


def diff_losses(rows: list[DiffRow]) -> dict[str, int]:
    """What a release loses against the one before: items removed without successor, items
    retired (with successors), fields cleared and the items they belong to."""
    cleared = [len(cleared_fields(r)) for r in rows if r["change"] == "changed"]
    return {
        "removed": sum(1 for r in rows if r["change"] == "removed"),
        "retired": sum(1 for r in rows if r["change"] == "retired"),
        "cleared_fields": sum(cleared),
        "cleared_items": sum(1 for n in cleared if n),
    }


def release_losses(*, release: CatalogRelease) -> dict[str, int]:
    return diff_losses(release_diff_rows(release=release)[1])


def diff_item_names(*, rows: list[DiffRow], release: CatalogRelease, previous: CatalogRelease | None) -> dict[str, str]:
    """Item names for diff rows: from ``release`` for added/changed, from ``previous`` for the gone."""
    present = [r["code"] for r in rows if r["change"] in ("added", "changed")]
    gone = [r["code"] for r in rows if r["change"] in ("removed", "retired")]
    names = dict(CatalogItem.objects.filter(release=release, code__in=present).values_list("code", "name"))
    if previous is not None and gone:
        names.update(CatalogItem.objects.filter(release=previous, code__in=gone).values_list("code", "name"))
    return names


DIFF_CSV_COLUMNS = ("change", "code", "name", "field", "before", "after", "successors")


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def diff_csv_chunks(*, release: CatalogRelease, change: str = "") -> Iterator[str]:
    """The review's diff as CSV text (header first; one line per changed field, so before and
    after sit side by side), with a BOM so spreadsheet programs read the Chinese right."""
    import csv
    import io

    from .exports import neutralise_formula

    previous, rows = release_diff_rows(release=release)
    if change:
        rows = [r for r in rows if r["change"] == change]
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def emit(cells: list[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([neutralise_formula(_csv_value(c)) for c in cells])
        return buffer.getvalue()

    yield "\ufeff" + emit(list(DIFF_CSV_COLUMNS))
    batch = 2000
    for start in range(0, len(rows), batch):
        page = rows[start : start + batch]
        names = diff_item_names(rows=page, release=release, previous=previous)
        out = []
        for row in page:
            name = names.get(row["code"], "")
            if row["change"] == "changed":
                for field, (old, new) in (row.get("fields") or {}).items():
                    out.append(emit([row["change"], row["code"], name, field, old, new, ""]))
            else:
                out.append(emit([row["change"], row["code"], name, "", "", "", row.get("successors") or []]))
        yield "".join(out)
