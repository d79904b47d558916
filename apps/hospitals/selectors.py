"""Reads for the hospital API: key verification, release manifests, items, look-ups by date."""

from __future__ import annotations

import datetime as dt
import hmac
import re
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import QuerySet

from apps.catalog import selectors as catalog
from apps.catalog.models import ITEM_CONTENT_FIELDS, CatalogItem, CatalogRelease

from .models import ApiKey, Hospital
from .services import API_KEY_CACHE_SECONDS, STALE, api_key_cache, api_key_cache_key, hash_secret

# ---------------------------------------------------------------------------------------------
# API keys
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyCheck:
    """Outcome of checking a presented key: ``status`` is ok / unknown / revoked / inactive."""

    status: str
    key_id: int = 0
    prefix: str = ""
    hospital_id: int = 0
    institution_code: str = ""
    province_code: str = ""


def _key_record(prefix: str) -> dict[str, Any] | None:
    """What verification needs about a key, from the shared cache or (one query) the database.

    A verdict is only ``add``-ed: after a revocation or deactivation the key is marked stale
    (``services._forget_keys``) and read from the database until the mark expires."""
    name = api_key_cache_key(prefix)
    verdicts = api_key_cache()
    record = verdicts.get(name)
    if record == STALE:
        return _key_record_from_db(prefix) or None
    if record is None:
        record = _key_record_from_db(prefix)
        verdicts.add(name, record, API_KEY_CACHE_SECONDS)
    return record or None


def _key_record_from_db(prefix: str) -> dict[str, Any]:
    row = (
        ApiKey.objects.filter(prefix=prefix)
        .values("id", "secret_sha256", "revoked_at", "hospital_id", "hospital__code", "hospital__active", "hospital__province__code")
        .first()
    )
    return (
        {
            "id": row["id"],
            "sha": row["secret_sha256"],
            "revoked": row["revoked_at"] is not None,
            "hospital_id": row["hospital_id"],
            "code": row["hospital__code"],
            "active": row["hospital__active"],
            "province": row["hospital__province__code"],
        }
        if row
        else {}
    )


def api_key_check(*, raw: str) -> KeyCheck:
    """Check ``prefix.secret`` in constant time against the stored hash.

    Revocation is only reported to a caller who holds the right secret, so the answer does not
    tell a guesser which prefixes exist.
    """
    prefix, dot, secret = raw.strip().partition(".")
    if not dot or not prefix.isalnum() or len(prefix) > 16 or not secret:
        return KeyCheck("unknown")
    record = _key_record(prefix)
    presented = hash_secret(secret)
    if record is None:
        hmac.compare_digest(presented, presented)  # same work either way
        return KeyCheck("unknown")
    if not hmac.compare_digest(presented, record["sha"]):
        return KeyCheck("unknown")
    status = "revoked" if record["revoked"] else ("inactive" if not record["active"] else "ok")
    return KeyCheck(status, record["id"], prefix, record["hospital_id"], record["code"], record["province"])


def hospital_keys(*, hospital_id: int) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(hospital_id=hospital_id).order_by("-created_at", "-id")


def hospitals_visible_to(*, user: Any) -> QuerySet[Hospital]:
    """Province-scoped staff see their province's hospitals; other staff see all."""
    from apps.core.permissions import staff_province

    hospitals = Hospital.objects.select_related("province", "region")
    if getattr(user, "is_superuser", False):
        return hospitals
    province = staff_province(user)
    return hospitals.filter(province__code=province) if province else hospitals


# ---------------------------------------------------------------------------------------------
# Published releases as hospitals see them (drafts do not exist for them)
# ---------------------------------------------------------------------------------------------

_MANIFEST_FIELDS = ("id", "label", "effective_from", "published_at", "counts", "diff_counts", "sha256", "exports", "previous__label")
_LABEL = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,31}")
MANIFEST_VERSION = "m2"  # bump when the manifest's shape changes so cached ETags change too


def _manifest_cache_key(label: str) -> str:
    return f"hospitals:manifest:{MANIFEST_VERSION}:{label}"


def release_manifest_record(*, label: str) -> dict[str, Any] | None:
    """The stored facts of a published release, or None (unknown label or not published).

    Published releases are immutable (database triggers), so the record is cached without
    expiry-driven invalidation; a miss costs one query, a hit none.
    """
    if not _LABEL.fullmatch(label):  # not a label at all: no query, and no odd cache keys
        return None
    name = _manifest_cache_key(label)
    record = cache.get(name)
    if record is not None:
        return dict(record)
    record = catalog.published_releases().filter(label=label).values(*_MANIFEST_FIELDS).first()
    if record is None:
        return None
    record["etag"] = f'"{MANIFEST_VERSION}-{record["sha256"]}"'
    cache.set(name, record, 24 * 3600)
    return dict(record)


@dataclass(frozen=True)
class PublishedRef:
    """What never changes about a published release: its id, label and manifest ETag."""

    id: int
    label: str
    etag: str


# label -> PublishedRef, published releases only: they are immutable (database triggers) and
# never deleted, so a label once published names the same release for the life of the process.
_PUBLISHED: dict[str, PublishedRef] = {}
_PUBLISHED_MAX = 1024


def published_ref(*, label: str) -> PublishedRef | None:
    """The id, label and manifest ETag of a published release, memoised in the process: a
    conditional GET of a manifest or a search of a release touches neither the cache nor the
    database once the process has seen the release. None for a label not published."""
    ref = _PUBLISHED.get(label)
    if ref is None:
        record = release_manifest_record(label=label)
        if record is None:
            return None
        if len(_PUBLISHED) >= _PUBLISHED_MAX:
            _PUBLISHED.clear()
        ref = _PUBLISHED[label] = PublishedRef(int(record["id"]), str(record["label"]), str(record["etag"]))
    return ref


def release_manifest_etag(*, label: str) -> str | None:
    """The manifest ETag of a published release (``published_ref``)."""
    ref = published_ref(label=label)
    return ref.etag if ref is not None else None


def published_release(*, label: str) -> CatalogRelease | None:
    return catalog.published_releases().filter(label=label).first()


def published_release_list(*, in_force_on: dt.date | None = None) -> QuerySet[CatalogRelease]:
    releases = catalog.published_releases().select_related("previous")
    if in_force_on is None:
        return releases
    in_force = catalog.release_in_force(on_date=in_force_on)
    return releases.filter(pk=in_force.pk if in_force else -1)


def release_items(
    *, release_id: int, kind: str = "", category: str = "", category_path: str = "", changed_since: CatalogRelease | None = None
) -> QuerySet[CatalogItem]:
    """Items of a release, filtered; ``changed_since`` keeps items added or changed since then.

    The filter is an anti-join on (release, code) so it pages with the keyset like the rest.
    """
    items = CatalogItem.objects.filter(release_id=release_id)
    if kind:
        items = items.filter(kind=kind)
    if category:
        items = items.filter(category=category)
    if category_path:
        items = items.filter(category_path__startswith=category_path)
    if changed_since is not None:
        items = items.extra(where=[_unchanged_since_sql()], params=[changed_since.pk])
    return items


def _unchanged_since_sql() -> str:
    table = CatalogItem._meta.db_table
    old_row = ", ".join(f"o.{f}" for f in ITEM_CONTENT_FIELDS)
    new_row = ", ".join(f"{table}.{f}" for f in ITEM_CONTENT_FIELDS)
    same = f"({old_row}) IS NOT DISTINCT FROM ({new_row})"
    return f"NOT EXISTS (SELECT 1 FROM {table} o WHERE o.release_id = %s AND o.code = {table}.code AND {same})"


def release_diff(*, old: CatalogRelease | None, new: CatalogRelease) -> dict[str, Any]:
    """As the staff diff: added / removed / changed / retired and counts (stored rows when
    ``old`` is the release the stored diff is against)."""
    return catalog.catalog_diff(old=old, new=new)


def item_on_date(*, code: str, on_date: dt.date) -> dict[str, Any] | None:
    """The look-up answer for ``code`` on ``on_date``: active item (possibly through a former
    code), retired with successors, or None when the code was never seen up to that date."""
    return catalog.item_lookup(code=code, on_date=on_date)
