"""Item search (``?q=``): code prefix, Chinese substrings of name, generic name and manufacturer,
and pinyin initials (``amxl`` finds 阿莫西林), best match first.

Ranks, best first (within a rank, code order; each item in its best rank only):

0. the code itself;                    1. a code starting with the query;
2. a name starting with the query, or whose pinyin initials do;
3. a name or generic name containing the query (or whose initials do);
4. a manufacturer containing the query.

How: every distinct text lives once in ``SearchTerm`` (folded with NFKC + lower case, pinyin
initials computed in Python once per new text, trigram-indexed). A query first finds the
matching terms (a small table), then the items whose name / generic / manufacturer term is
among them: each rank is one ``ORDER BY code LIMIT n`` branch over ``ItemSearch``, so
PostgreSQL picks per rank between the term indexes and a walk in code order, with real
term ids (and their statistics) in hand rather than guesses about a LIKE pattern.

A published release is indexed in its publishing transaction (``release_publishing``); a
draft, or a release published before this module existed, is searched through the same
dictionary joined to its items on the fly (slower, same answers) until ``catalog_search_index``
indexes it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from pypinyin import Style, lazy_pinyin

from .models import CatalogItem, CatalogRelease
from .signals import release_publishing

Q_MAX_LENGTH = 64
TEXT_FIELDS = ("name", "generic_name", "manufacturer")
_NOT_INITIAL = re.compile(r"[^0-9a-z]")
_TERMS_TABLE = "catalog_searchterm"
_ROWS_TABLE = "catalog_itemsearch"


# --- the dictionary --------------------------------------------------------------------------


def pinyin_initials(text: str) -> str:
    """Lower-case pinyin initials of the Chinese characters, other letters and digits kept:
    阿莫西林胶囊 → amxljn, 胸部CT平扫 → xbctps. Punctuation and spaces are dropped."""
    folded = unicodedata.normalize("NFKC", text)
    return _NOT_INITIAL.sub("", "".join(lazy_pinyin(folded, style=Style.FIRST_LETTER, errors="default")).lower())


_NEW_TEXTS_SQL = f"""
SELECT t.text FROM (
    SELECT name AS text FROM catalog_catalogitem WHERE release_id = %(release)s
    UNION SELECT generic_name FROM catalog_catalogitem WHERE release_id = %(release)s
    UNION SELECT manufacturer FROM catalog_catalogitem WHERE release_id = %(release)s
) t
WHERE t.text <> '' AND NOT EXISTS (SELECT 1 FROM {_TERMS_TABLE} s WHERE s.text = t.text)
"""


def _terms_insert(texts: Iterable[str]) -> int:
    """Add ``texts`` (distinct, non-empty) to the dictionary; returns how many were new.
    Folding is done by PostgreSQL (the same expression a query is folded with)."""
    rows = [(text, pinyin_initials(text)) for text in texts]
    if not rows:
        return 0
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS catalog_search_new_terms (text text, initials text) ON COMMIT DROP")
        cursor.execute("TRUNCATE catalog_search_new_terms")
        with cursor.cursor.copy("COPY catalog_search_new_terms (text, initials) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        # Concurrent publishes or imports bringing the same new text: the unique index makes one
        # of them wait and the other's row wins; ON CONFLICT keeps either from failing.
        cursor.execute(
            f"INSERT INTO {_TERMS_TABLE} (text, folded, initials) "
            "SELECT text, lower(normalize(text, NFKC)), initials FROM catalog_search_new_terms ORDER BY text "
            "ON CONFLICT (text) DO NOTHING"
        )
        return int(cursor.rowcount)


def terms_fill(*, release_id: int) -> int:
    """Bring every text of the release's items into the dictionary (set-based: only texts the
    dictionary lacks reach Python, for their pinyin). Returns how many texts were new."""
    with connection.cursor() as cursor:
        cursor.execute(_NEW_TEXTS_SQL, {"release": release_id})
        texts = [row[0] for row in cursor.fetchall()]
    added = _terms_insert(texts)
    if added > 1000:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {_TERMS_TABLE}")
    return added


def terms_ensure(*, texts: Iterable[str]) -> int:
    """The dictionary entries of a few texts (one edited item), added when missing."""
    wanted = sorted({t for t in texts if t})
    if not wanted:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT text FROM {_TERMS_TABLE} WHERE text = ANY(%s)", [wanted])
        known = {row[0] for row in cursor.fetchall()}
    return _terms_insert(t for t in wanted if t not in known)


# --- the rows of a published release ---------------------------------------------------------

_ROWS_SQL = f"""
INSERT INTO {_ROWS_TABLE} (release_id, code, kind, category, name_term, generic_term, maker_term)
SELECT i.release_id, i.code, i.kind, i.category, n.id, g.id, m.id
FROM catalog_catalogitem i
LEFT JOIN {_TERMS_TABLE} n ON n.text = i.name
LEFT JOIN {_TERMS_TABLE} g ON g.text = nullif(i.generic_name, '')
LEFT JOIN {_TERMS_TABLE} m ON m.text = nullif(i.manufacturer, '')
WHERE i.release_id = %(release)s
ORDER BY i.code
ON CONFLICT (release_id, code) DO NOTHING
"""


def release_index(*, release: CatalogRelease) -> int:
    """Write the search rows of a published release (its dictionary terms first); returns the
    number of rows written (0 when it was indexed already). Runs in the caller's transaction."""
    terms_fill(release_id=release.pk)
    with connection.cursor() as cursor:
        cursor.execute(_ROWS_SQL, {"release": release.pk})
        written = int(cursor.rowcount)
        if written:
            # Plans pick between the term indexes and a walk in code order from these statistics.
            cursor.execute(f"ANALYZE {_ROWS_TABLE}")
    return written


def release_is_indexed(*, release_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {_ROWS_TABLE} WHERE release_id = %s)", [release_id])
        return bool(cursor.fetchone()[0])


def index_on_publish(sender: Any, release: CatalogRelease, **kwargs: Any) -> None:
    """Inside the publishing transaction: the release is searchable from the moment it exists."""
    release_index(release=release)


release_publishing.connect(index_on_publish, dispatch_uid="catalog-search-index")


# --- queries ------------------------------------------------------------------------------


class BadSearch(ValueError):
    """A query or cursor that cannot be used (the API answers 400 naming the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SearchPage:
    codes: list[str]  # best match first
    next_cursor: str | None


def normalise_query(q: str) -> str:
    """Whitespace collapsed and trimmed; BadSearch when longer than Q_MAX_LENGTH."""
    text = " ".join(unicodedata.normalize("NFKC", q).split())
    if len(text) > Q_MAX_LENGTH:
        raise BadSearch("q", f"at most {Q_MAX_LENGTH} characters")
    return text


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _encode_cursor(rank: int, code: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([rank, code]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        rank, code = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, TypeError) as exc:
        raise BadSearch("cursor", "not a cursor this endpoint gave out") from exc
    if not isinstance(rank, int) or not isinstance(code, str) or not 0 <= rank <= 4 or len(code) > 32:
        raise BadSearch("cursor", "not a cursor this endpoint gave out")
    return rank, code


_TERMS_QUERY = f"""
WITH q AS (SELECT lower(normalize(%(q)s, NFKC)) AS folded)
SELECT t.id,
       t.folded LIKE %(prefix)s OR (%(initials)s AND t.initials LIKE %(prefix)s) AS name_prefix,
       t.folded LIKE %(sub)s OR (%(initials)s AND t.initials LIKE %(sub)s) AS name_hit,
       t.folded LIKE %(sub)s AS text_hit
FROM {_TERMS_TABLE} t
WHERE t.folded LIKE %(sub)s OR (%(initials)s AND t.initials LIKE %(sub)s)
"""


@dataclass(frozen=True)
class _Terms:
    name_prefix: list[int]
    name_hit: list[int]
    maker_hit: list[int]


def _matching_terms(q: str) -> _Terms:
    folded = unicodedata.normalize("NFKC", q).lower()
    escaped = _like_escape(folded)
    # Initials are ASCII letters and digits: a query with anything else cannot match them.
    initials = bool(folded) and folded.isascii() and folded.isalnum()
    with connection.cursor() as cursor:
        cursor.execute(_TERMS_QUERY, {"q": q, "prefix": escaped + "%", "sub": "%" + escaped + "%", "initials": initials})
        rows = cursor.fetchall()
    return _Terms(
        name_prefix=[r[0] for r in rows if r[1]],
        name_hit=[r[0] for r in rows if r[2]],
        maker_hit=[r[0] for r in rows if r[3]],
    )


def _fallback_relation() -> str:
    """The same columns as ItemSearch for a release that has no search rows (a draft)."""
    return (
        f'(SELECT i.release_id, i.code COLLATE "C" AS code, i.kind, i.category, n.id AS name_term, g.id AS generic_term, '
        f"m.id AS maker_term FROM catalog_catalogitem i "
        f"LEFT JOIN {_TERMS_TABLE} n ON n.text = i.name "
        f"LEFT JOIN {_TERMS_TABLE} g ON g.text = nullif(i.generic_name, '') "
        f"LEFT JOIN {_TERMS_TABLE} m ON m.text = nullif(i.manufacturer, '') "
        f"WHERE i.release_id = %(release)s)"
    )


def items_search(
    *, release_id: int, q: str, kind: str = "", category: str = "", cursor: str = "", size: int = 100, indexed: bool | None = None
) -> SearchPage:
    """One page of the items of ``release_id`` matching ``q``, best match first (module doc).

    ``cursor`` continues after the last item of a previous page (``SearchPage.next_cursor``).
    Raises BadSearch for a query over Q_MAX_LENGTH or a cursor not made here. Two statements:
    the matching dictionary terms, then the page.
    """
    from apps.core.codes import normalise_code

    text = normalise_query(q)
    after_rank, after_code = _decode_cursor(cursor) if cursor else (0, "")
    if not text:
        return SearchPage([], None)
    code = normalise_code(text)
    code_ok = bool(code) and code.isascii() and len(code) <= 32 and all(c.isalnum() or c in "-." for c in code)
    terms = _matching_terms(text)
    if indexed is None:
        indexed = release_is_indexed(release_id=release_id)
    relation = _ROWS_TABLE if indexed else _fallback_relation()
    params: dict[str, Any] = {
        "release": release_id,
        "code": code,
        "code_prefix": _like_escape(code) + "%",
        "prefix_ids": terms.name_prefix,
        "name_ids": terms.name_hit,
        "maker_ids": terms.maker_hit,
        "after": after_code,
        "n": size + 1,
        "kind": kind,
        "category": category,
    }
    not_code_prefix = "NOT (s.code LIKE %(code_prefix)s)" if code_ok else "true"
    not_name_prefix = "NOT coalesce(s.name_term = ANY(%(prefix_ids)s::bigint[]), false)"
    name_hit = "(s.name_term = ANY(%(name_ids)s::bigint[]) OR s.generic_term = ANY(%(name_ids)s::bigint[]))"
    tiers: list[str | None] = [
        "s.code = %(code)s" if code_ok else None,
        "s.code LIKE %(code_prefix)s AND s.code <> %(code)s" if code_ok else None,
        f"s.name_term = ANY(%(prefix_ids)s::bigint[]) AND {not_code_prefix}" if terms.name_prefix else None,
        f"{name_hit} AND {not_name_prefix} AND {not_code_prefix}" if terms.name_hit else None,
        f"s.maker_term = ANY(%(maker_ids)s::bigint[]) AND NOT coalesce({name_hit}, false) AND {not_code_prefix}"
        if terms.maker_hit
        else None,
    ]
    filters = "".join(
        (" AND s.kind = %(kind)s" if kind else "", " AND s.category = %(category)s" if category else "", " AND s.release_id = %(release)s")
    )
    branches = []
    for rank, condition in enumerate(tiers):
        if condition is None or rank < after_rank:
            continue
        after = " AND s.code > %(after)s" if rank == after_rank and after_code else ""
        branches.append(f"(SELECT s.code, {rank} AS rank FROM {relation} s WHERE {condition}{filters}{after} ORDER BY s.code LIMIT %(n)s)")
    if not branches:
        return SearchPage([], None)
    sql = f"SELECT code, rank FROM ({' UNION ALL '.join(branches)}) hits ORDER BY rank, code LIMIT %(n)s"
    with connection.cursor() as db:
        db.execute(sql, params)
        rows = db.fetchall()
    more = len(rows) > size
    rows = rows[:size]
    return SearchPage([r[0] for r in rows], _encode_cursor(rows[-1][1], rows[-1][0]) if more else None)


def items_in_order(*, release_id: int, codes: list[str]) -> list[CatalogItem]:
    """The items of ``codes`` in that order (one query)."""
    found = {item.code: item for item in CatalogItem.objects.filter(release_id=release_id, code__in=codes)}
    return [found[c] for c in codes if c in found]
