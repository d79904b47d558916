"""Item search (``?q=``): code prefix, Chinese substrings of name, generic name and manufacturer,
and pinyin initials (``amxl`` finds 阿莫西林), best match first.

Ranks, best first (within a rank, code order; each item in its best rank only):

0. the code itself;                    1. a code starting with the query;
2. a name starting with the query, or whose pinyin initials do;
3. a name or generic name containing the query (or whose initials do);
4. a manufacturer containing the query.

How: every distinct text lives once in ``SearchTerm`` (folded with NFKC + lower case, pinyin
initials computed in Python once per new text, trigram-indexed). A query first finds the
matching terms (a small table) with how many items of the release carry each
(``SearchTermUse``), then reads each rank from ``ItemSearch`` the way those counts say is
cheapest: one code-ordered index range per term (few terms, read laterally over the terms as
an array: a page is a few index pages whatever the terms' sizes), the term index then a sort
(many terms, few items), or a walk of the release in code order (many terms, many items). The
page's items come back rendered by PostgreSQL (the catalog's item JSON fragment). Two
statements per page, one when this process has answered the query for the release before
(the terms of an indexed release are remembered: they never change). Both are prepared on their
connection and run their generic plan (apps.core.prepared): the text of a page statement fixes
how each rank is read, so planning it for every search was CPU spent for nothing.

A published release is indexed right after its publish commits, by the Celery task
``catalog.search_index`` (and by the beat sweep ``catalog.search_index_due`` should that task be
lost); meanwhile, and for drafts, items are searched through the same dictionary joined to them
on the fly (slower, same answers). ``manage.py catalog_search_index`` does the sweep by hand.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from pypinyin import Style, lazy_pinyin

from apps.core.prepared import prepared_cursor
from apps.core.replica import read_connection
from apps.core.sweeps import SweepIncomplete, sweep

from .models import CatalogRelease
from .signals import release_published
from .sql_fragments import item_json, item_probe

Q_MAX_LENGTH = 64
_NOT_INITIAL = re.compile(r"[^0-9a-z]")
_TERMS_TABLE = "catalog_searchterm"
_ROWS_TABLE = "catalog_itemsearch"
_USE_TABLE = "catalog_searchtermuse"
# Search rows keep codes in the C collation (a code prefix is an index range); the items' index
# is in the database's default one, which a probe must compare in to use it.
_ITEM_COLLATION = 'hits.code COLLATE "default"'
# Codes are kept in the C collation (byte order): every code starting with a query lies between
# the query and the query followed by the highest code point.
CODE_RANGE_END = "\U0010ffff"
# A rank with at most this many items is read through the term indexes and sorted; a bigger one
# by walking the release in code order (each of its items is then a likely hit).
SMALL_RANK = 5000
# Up to this many matched terms, a rank is read one term at a time in code order.
PER_TERM_BRANCHES = 16


# --- the dictionary --------------------------------------------------------------------------


def pinyin_initials(text: str) -> str:
    """Lower-case pinyin initials of the Chinese characters, other letters and digits kept:
    阿莫西林胶囊 → amxljn, 胸部CT平扫 → xbctps. Punctuation and spaces are dropped."""
    folded = unicodedata.normalize("NFKC", text)
    return _NOT_INITIAL.sub("", "".join(lazy_pinyin(folded, style=Style.FIRST_LETTER, errors="default")).lower())


# One scan of the release's items (three texts a row), not three scans under a UNION: a third
# of the time at 500k items.
_NEW_TEXTS_SQL = f"""
SELECT DISTINCT t.text
FROM catalog_catalogitem i CROSS JOIN LATERAL (VALUES (i.name), (i.generic_name), (i.manufacturer)) AS t(text)
WHERE i.release_id = %(release)s AND t.text <> '' AND NOT EXISTS (SELECT 1 FROM {_TERMS_TABLE} s WHERE s.text = t.text)
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

# A generic name whose folded text and initials lie inside the name's adds nothing a query could
# match without matching the name: it is left out (NULL), so the generic-name rank only ever
# holds items whose generic name says something their name does not.
_GENERIC_KEPT = "CASE WHEN g.id IS NULL OR (strpos(n.folded, g.folded) > 0 AND strpos(n.initials, g.initials) > 0) THEN NULL ELSE g.id END"

_ROWS_SQL = f"""
INSERT INTO {_ROWS_TABLE} (release_id, code, kind, category, name_term, generic_term, maker_term)
SELECT i.release_id, i.code, i.kind, i.category, n.id, {_GENERIC_KEPT}, m.id
FROM catalog_catalogitem i
LEFT JOIN {_TERMS_TABLE} n ON n.text = i.name
LEFT JOIN {_TERMS_TABLE} g ON g.text = nullif(i.generic_name, '')
LEFT JOIN {_TERMS_TABLE} m ON m.text = nullif(i.manufacturer, '')
WHERE i.release_id = %(release)s
ORDER BY i.code
"""

_USE_SQL = f"""
INSERT INTO {_USE_TABLE} (release_id, term_id, names, generics, makers)
SELECT %(release)s, u.term_id, sum(u.names), sum(u.generics), sum(u.makers) FROM (
    SELECT name_term AS term_id, 1 AS names, 0 AS generics, 0 AS makers FROM {_ROWS_TABLE} WHERE release_id = %(release)s
    UNION ALL SELECT generic_term, 0, 1, 0 FROM {_ROWS_TABLE} WHERE release_id = %(release)s
    UNION ALL SELECT maker_term, 0, 0, 1 FROM {_ROWS_TABLE} WHERE release_id = %(release)s
) u
WHERE u.term_id IS NOT NULL
GROUP BY u.term_id
"""


def release_index(*, release: CatalogRelease) -> int:
    """Write the search rows of a published release (its dictionary terms first) and its term
    counts; returns the number of rows written (0 when it was indexed already). Runs in the
    caller's transaction, which holds the release row (publish locks it; the command does)."""
    if release_is_indexed(release_id=release.pk):
        return 0
    terms_fill(release_id=release.pk)
    with connection.cursor() as cursor:
        cursor.execute(_ROWS_SQL, {"release": release.pk})
        written = int(cursor.rowcount)
        if written:
            cursor.execute(_USE_SQL, {"release": release.pk})
            # Fresh statistics for the plans of the first queries on the new release.
            cursor.execute(f"ANALYZE {_ROWS_TABLE}")
    return written


_INDEXED: set[int] = set()  # releases seen indexed: their rows never go away (triggers)


def release_is_indexed(*, release_id: int) -> bool:
    if release_id in _INDEXED:
        return True
    db = read_connection()
    with db.cursor() as cursor:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {_ROWS_TABLE} WHERE release_id = %s)", [release_id])
        found = bool(cursor.fetchone()[0])
    if found and not db.in_atomic_block:  # not a row this transaction may yet roll back
        _INDEXED.add(release_id)
    return found


INDEX_TASK = "catalog.search_index"


def index_after_publish(sender: Any, release: CatalogRelease, **kwargs: Any) -> None:
    """``release_published`` receiver (after the publish commits): index in a worker. Writing
    500,000 rows and their indexes took ~10 s here, which the publish must not wait for; until
    the task is done the release is searched through the fallback join (same answers)."""
    from celery import current_app

    current_app.tasks[INDEX_TASK].delay(release.pk)


release_published.connect(index_after_publish, dispatch_uid="catalog-search-index")


def releases_to_index() -> list[int]:
    """Ids of published releases without search rows (a lost task, or published before search
    existed), oldest in force first."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.id FROM catalog_catalogrelease r WHERE r.status = 'published' "
            f"AND NOT EXISTS (SELECT 1 FROM {_ROWS_TABLE} s WHERE s.release_id = r.id) ORDER BY r.effective_from"
        )
        return [row[0] for row in cursor.fetchall()]


def release_index_locked(*, release_id: int) -> int:
    """Index one published release in a transaction of its own, holding its row so two workers
    (a redelivered task, the sweep) never index it at once. 0 when it was indexed already."""
    with transaction.atomic():
        release = CatalogRelease.objects.select_for_update().filter(pk=release_id, status=CatalogRelease.Status.PUBLISHED).first()
        return release_index(release=release) if release is not None else 0


class ReleasesNotIndexed(SweepIncomplete):
    """Some published releases of a sweep could not be indexed (each is logged); the others were."""


def releases_index_due() -> int:
    """Index every published release still without search rows, each in a transaction of its
    own; the rows written. The beat's sweep and a worker's start: one release that fails (a lock
    waited on too long) is logged, the others are indexed, then ``ReleasesNotIndexed`` is raised
    and the next sweep tries it again."""
    return sweep(
        releases_to_index(),
        lambda release_id: release_index_locked(release_id=release_id),
        what="catalog release %s: its search rows could not be written",
        incomplete=ReleasesNotIndexed,
    )


# --- queries ------------------------------------------------------------------------------


class BadSearch(ValueError):
    """A query or cursor that cannot be used (the API answers 400 naming the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SearchPage:
    codes: list[str]  # best match first
    items_json: str  # the items of ``codes``, in that order, as a JSON array (the API's item shape)
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


# The dictionary terms a query matches, with how many items of the release carry each as name,
# generic name and manufacturer (no counts for a release not indexed). The query is folded in
# Python exactly as terms were in PostgreSQL: NFKC, then lower case.
_TERMS_QUERY = f"""
SELECT t.id,
       t.folded LIKE %(prefix)s OR (%(initials)s AND t.initials LIKE %(prefix)s) AS name_prefix,
       t.folded LIKE %(sub)s OR (%(initials)s AND t.initials LIKE %(sub)s) AS name_hit,
       t.folded LIKE %(sub)s AS text_hit,
       coalesce(u.names, 0), coalesce(u.generics, 0), coalesce(u.makers, 0)
FROM {_TERMS_TABLE} t
LEFT JOIN {_USE_TABLE} u ON u.release_id = %(release)s AND u.term_id = t.id
WHERE t.folded LIKE %(sub)s OR (%(initials)s AND t.initials LIKE %(sub)s)
"""


@dataclass(frozen=True)
class _Terms:
    name_prefix: list[int]
    name_hit: list[int]
    maker_hit: list[int]
    counts: dict[int, tuple[int, int, int]]  # term -> (names, generics, makers) in the release


# The terms a query matches in a release whose search rows are written never change: its rows
# name only terms that existed when they were written, terms are never changed, and a text added
# to the dictionary later is carried by no item of that release. So, per process, the answer of
# the terms statement is kept for such releases (least recently used first out): a query asked
# again is one statement, the page. Answers matching many terms (a broad query over a real
# dictionary) are not kept, to bound the memory.
TERMS_MEMO_SIZE = 4096
TERMS_MEMO_MAX_TERMS = 512
_TERMS_MEMO: OrderedDict[tuple[int, str], _Terms] = OrderedDict()
_TERMS_MEMO_LOCK = threading.Lock()


def _matching_terms(q: str, *, release_id: int, indexed: bool) -> _Terms:
    """The dictionary terms ``q`` matches; for an indexed release only those its items carry
    (no row of it can name another), from the per-process memo when the release's rows are
    committed (``release_is_indexed`` saw them outside a transaction)."""
    folded = unicodedata.normalize("NFKC", q).lower()
    memo_key = (release_id, folded) if indexed and release_id in _INDEXED else None
    if memo_key is not None:
        with _TERMS_MEMO_LOCK:
            known = _TERMS_MEMO.get(memo_key)
            if known is not None:
                _TERMS_MEMO.move_to_end(memo_key)
                return known
    escaped = _like_escape(folded)
    # Initials are ASCII letters and digits: a query with anything else cannot match them.
    initials = bool(folded) and folded.isascii() and folded.isalnum()
    with prepared_cursor(read_connection()) as cursor:
        cursor.execute(_TERMS_QUERY, {"prefix": escaped + "%", "sub": "%" + escaped + "%", "initials": initials, "release": release_id})
        rows = cursor.fetchall()
    if indexed:
        rows = [r for r in rows if r[4] or r[5] or r[6]]
    terms = _Terms(
        name_prefix=[r[0] for r in rows if r[1]],
        name_hit=[r[0] for r in rows if r[2]],
        maker_hit=[r[0] for r in rows if r[3]],
        counts={int(r[0]): (int(r[4]), int(r[5]), int(r[6])) for r in rows},
    )
    if memo_key is not None and len(rows) <= TERMS_MEMO_MAX_TERMS:
        with _TERMS_MEMO_LOCK:
            _TERMS_MEMO[memo_key] = terms
            while len(_TERMS_MEMO) > TERMS_MEMO_SIZE:
                _TERMS_MEMO.popitem(last=False)
    return terms


def _fallback_relation() -> str:
    """The same columns as ItemSearch for a release that has no search rows (a draft)."""
    return (
        f'(SELECT i.release_id, i.code COLLATE "C" AS code, i.kind, i.category, n.id AS name_term, {_GENERIC_KEPT} AS generic_term, '
        f"m.id AS maker_term FROM catalog_catalogitem i "
        f"LEFT JOIN {_TERMS_TABLE} n ON n.text = i.name "
        f"LEFT JOIN {_TERMS_TABLE} g ON g.text = nullif(i.generic_name, '') "
        f"LEFT JOIN {_TERMS_TABLE} m ON m.text = nullif(i.manufacturer, '') "
        f"WHERE i.release_id = %(release)s)"
    )


def items_search(
    *,
    release_id: int,
    release_label: str = "",
    q: str,
    kind: str = "",
    category: str = "",
    cursor: str = "",
    size: int = 100,
    indexed: bool | None = None,
) -> SearchPage:
    """One page of the items of ``release_id`` matching ``q``, best match first (module doc).

    ``cursor`` continues after the last item of a previous page (``SearchPage.next_cursor``).
    ``release_label`` is what the items' ``release`` says. Raises BadSearch for a query over
    Q_MAX_LENGTH or a cursor not made here. Two statements: the matching dictionary terms with
    their counts in the release, then the page with its items rendered.
    """
    from apps.core.codes import normalise_code

    text = normalise_query(q)
    after_rank, after_code = _decode_cursor(cursor) if cursor else (0, "")
    if not text:
        return SearchPage([], "[]", None)
    code = normalise_code(text)
    code_ok = bool(code) and code.isascii() and len(code) <= 32 and all(c.isalnum() or c in "-." for c in code)
    if indexed is None:
        indexed = release_is_indexed(release_id=release_id)
    terms = _matching_terms(text, release_id=release_id, indexed=indexed)
    prefix, hits, makers = set(terms.name_prefix), set(terms.name_hit), set(terms.maker_hit)
    params: dict[str, Any] = {
        "release": release_id,
        "code": code,
        # Codes starting with the query as a range, not LIKE: a prepared statement's generic plan
        # reads it from the index whatever the parameter (a LIKE pattern needs a custom plan).
        "code_end": code + CODE_RANGE_END,
        "name_ids": sorted(hits),
        "maker_ids": sorted(makers),
        "after": after_code,
        "kind": kind,
        "category": category,
    }
    counts = terms.counts
    # The page size is part of the text, not a parameter: a prepared statement's generic plan
    # takes a LIMIT parameter for a tenth of the rows and is never chosen.
    limit = int(size) + 1
    not_code = " AND NOT (s.code >= %(code)s AND s.code < %(code_end)s)" if code_ok else ""
    no_name = " AND NOT coalesce(s.name_term = ANY(%(name_ids)s::bigint[]), false)"
    no_generic = " AND NOT coalesce(s.generic_term = ANY(%(name_ids)s::bigint[]), false)"
    filters = "".join(
        (" AND s.kind = %(kind)s" if kind else "", " AND s.category = %(category)s" if category else "", " AND s.release_id = %(release)s")
    )
    relation = _ROWS_TABLE if indexed else _fallback_relation()
    branches: list[str] = []
    # The statement is prepared on its connection and run with its generic plan (settings:
    # PREPARED_STATEMENTS) when its text fixes how each rank is read: always, but for the
    # fallback join and a walk in code order, whose plans depend on the values.
    prepare = indexed

    def add(rank: int, where: str) -> None:
        if rank < after_rank:
            return
        after = " AND s.code > %(after)s" if rank == after_rank and after_code else ""
        branches.append(f"(SELECT s.code, {rank} AS rank FROM {relation} s WHERE {where}{filters}{after} ORDER BY s.code LIMIT {limit})")

    if code_ok:
        add(0, "s.code = %(code)s")
        add(1, "s.code > %(code)s AND s.code < %(code_end)s")
    # Term ranks: (rank, column, terms, which count, extra condition). Each item meets one, its best.
    term_ranks = [
        (2, "name_term", prefix, 0, not_code),
        (3, "name_term", hits - prefix, 0, not_code),
        (3, "generic_term", hits, 1, no_name + not_code),
        (4, "maker_term", makers, 2, no_name + no_generic + not_code),
    ]
    for rank, column, ids, which, extra in term_ranks:
        if not ids or rank < after_rank:
            continue
        if not indexed:  # a draft: no counts, the one shape
            key = f"t{len(branches)}"
            params[key] = sorted(ids)
            add(rank, f"s.{column} = ANY(%({key})s::bigint[]){extra}")
            continue
        used = {t: counts[t][which] for t in ids if counts.get(t, (0, 0, 0))[which]}
        if not used:
            continue  # no item of this release carries these terms there
        total = sum(used.values())
        if len(used) <= PER_TERM_BRANCHES:
            # Each term read in code order from (release, term, code) and cut at the page size:
            # a few index pages whatever the terms' sizes. One branch over the terms as an array
            # (a lateral read per term), not a branch per term: planning the statement cost more
            # than running it, and grew with every term.
            key = f"t{len(branches)}"
            params[key] = sorted(used)
            after = " AND s.code > %(after)s" if rank == after_rank and after_code else ""
            branches.append(
                f"(SELECT x.code, {rank} AS rank FROM unnest(%({key})s::bigint[]) AS t(id) CROSS JOIN LATERAL "
                f"(SELECT s.code FROM {relation} s WHERE s.{column} = t.id{extra}{filters}{after} ORDER BY s.code LIMIT {limit}) x "
                f"ORDER BY x.code LIMIT {limit})"
            )
        elif total <= SMALL_RANK:
            # Many terms, few items: read them all through the term index and sort (the fence
            # keeps PostgreSQL from walking the release in code order to find them).
            key = f"t{len(branches)}"
            params[key] = sorted(used)
            where = f"s.{column} = ANY(%({key})s::bigint[]){extra}{filters}"
            if rank == after_rank and after_code:
                where += " AND s.code > %(after)s"
            branches.append(
                f"(SELECT x.code, {rank} AS rank FROM (SELECT s.code FROM {relation} s WHERE {where} OFFSET 0) x ORDER BY x.code LIMIT {limit})"
            )
        else:
            # Many terms and many items (a broad query): walk the release in code order.
            prepare = False
            key = f"t{len(branches)}"
            params[key] = sorted(used)
            add(rank, f"s.{column} = ANY(%({key})s::bigint[]){extra}")
    if not branches:
        return SearchPage([], "[]", None)
    # The page's items come back rendered as the item list renders them (the catalog's item JSON
    # fragment), in rank order: no item objects and no serializer for a search page.
    params["label"] = release_label
    sql = (
        f"WITH hits AS (SELECT code, rank FROM ({' UNION ALL '.join(branches)}) h ORDER BY rank, code LIMIT {limit}) "
        f"SELECT hits.code, hits.rank, {item_json('i', release_label_sql='%(label)s::text')}::text FROM hits "
        f"{item_probe('i', release_sql='%(release)s', code_sql=_ITEM_COLLATION)} ORDER BY hits.rank, hits.code"
    )
    with prepared_cursor(read_connection()) if prepare else read_connection().cursor() as db:
        db.execute(sql, params)
        rows = db.fetchall()
    more = len(rows) > size
    rows = rows[:size]
    return SearchPage(
        [r[0] for r in rows], "[" + ",".join(r[2] for r in rows) + "]", _encode_cursor(rows[-1][1], rows[-1][0]) if more else None
    )
