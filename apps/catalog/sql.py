"""The catalog's SQL: the release diff, the export queries, the copy of a release's items, and
the fragments other apps use to read catalog rows inside their own statements.

(The import pipeline's SQL — staging checks and the merge — lives with it in
``importers/sql.py``.) Other apps never name ``catalog_*`` tables in their strings: they call
:func:`item_join` (or a selector / queryset) instead, so a change of this schema is made here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import current_app
from django.db import connection, connections, transaction

from .models import CANONICAL_COLUMNS, ITEM_CONTENT_FIELDS, ITEM_TEXT_FIELDS

# Room for the 500k-row hash join; and no JIT: the planner over-estimates the changed rows and
# would spend ~0.4 s compiling the wide field-comparison expression for a few thousand rows.
DIFF_SETTINGS_SQL = "SET LOCAL work_mem = '256MB'; SET LOCAL jit = off"


def _sql_value(field: str, alias: str) -> str:
    # numeric as text so JSON carries "0.1000" exactly as the API renders it
    return f"{alias}.{field}::text" if field == "self_pay_ratio" else f"{alias}.{field}"


# '"field":[old,new]' for each differing field, joined by commas (concat_ws skips the NULLs of
# equal fields): plain text is several times cheaper than building and stripping a jsonb object.
_CHANGED_FIELDS = "concat_ws(',', {})".format(
    ",\n".join(
        f"CASE WHEN old_item.{f} IS DISTINCT FROM new_item.{f} THEN '\"{f}\":' "
        f"|| json_build_array({_sql_value(f, 'old_item')}, {_sql_value(f, 'new_item')})::text END"
        for f in ITEM_CONTENT_FIELDS
    )
)

# One row per code that differs: code, change, fields (a JSON object as text) and successors (jsonb).
# Both releases join narrow (id, code, content hash) so whichever side PostgreSQL hashes is
# small (hashing the old release's whole rows, which the planner may pick, cost ~0.3 s at 500k);
# whole rows are then read by primary key for changed codes only.
DIFF_ROWS_SQL = f"""
WITH old_keys AS NOT MATERIALIZED (SELECT id, code, content_hash FROM catalog_catalogitem WHERE release_id = %(old)s),
     new_keys AS NOT MATERIALIZED (SELECT id, code, content_hash FROM catalog_catalogitem WHERE release_id = %(new)s),
     differing AS (
         SELECT old_keys.id AS old_id, new_keys.id AS new_id, coalesce(new_keys.code, old_keys.code) AS diff_code
         FROM old_keys FULL JOIN new_keys ON old_keys.code = new_keys.code
         WHERE old_keys.id IS NULL OR new_keys.id IS NULL OR old_keys.content_hash <> new_keys.content_hash
     ),
     successors_of AS (
         SELECT replaced.old_code, jsonb_agg(successor.code ORDER BY successor.code) AS successors
         FROM catalog_catalogitem successor CROSS JOIN LATERAL jsonb_array_elements_text(successor.replaces) AS replaced(old_code)
         WHERE successor.release_id = %(new)s AND successor.replaces <> '[]'::jsonb
         GROUP BY replaced.old_code
     )
SELECT differing.diff_code AS code,
       CASE WHEN differing.old_id IS NULL THEN 'added'
            WHEN differing.new_id IS NULL AND successors_of.successors IS NOT NULL THEN 'retired'
            WHEN differing.new_id IS NULL THEN 'removed'
            ELSE 'changed' END AS change,
       '{{' || CASE WHEN new_item.id IS NOT NULL THEN {_CHANGED_FIELDS} ELSE '' END || '}}' AS fields,
       CASE WHEN differing.new_id IS NULL THEN coalesce(successors_of.successors, '[]'::jsonb) ELSE '[]'::jsonb END AS successors
FROM differing
-- LATERAL + OFFSET 0 (a planner fence): whole rows are read by primary key, only for changed codes
-- (release_id too: items are partitioned by release, so the id is probed in that partition only)
LEFT JOIN LATERAL (SELECT * FROM catalog_catalogitem WHERE release_id = %(old)s AND id = differing.old_id AND differing.new_id IS NOT NULL OFFSET 0) old_item ON true
LEFT JOIN LATERAL (SELECT * FROM catalog_catalogitem WHERE release_id = %(new)s AND id = differing.new_id AND differing.old_id IS NOT NULL OFFSET 0) new_item ON true
LEFT JOIN successors_of ON differing.new_id IS NULL AND successors_of.old_code = differing.diff_code
"""

# The whole diff as ONE JSON array in code order: one json.loads on the client instead of a
# row, a jsonb value and a dict per code. code and change need no escaping beyond to_json.
DIFF_SQL = f"""
SELECT '[' || string_agg(
    '{{"code":' || to_json(diff.code)::text || ',"change":"' || diff.change || '","fields":' || diff.fields
        || ',"successors":' || diff.successors::text || '}}',
    ',' ORDER BY diff.code) || ']'
FROM ({DIFF_ROWS_SQL}) AS diff
"""


# --- publishing and drafts ----------------------------------------------------------------

# The diff rows of a publish, stored as the release's ReleaseChange rows (parameters: old, new).
STORE_DIFF_SQL = (
    "INSERT INTO catalog_releasechange (release_id, code, change, fields, successors) "
    f"SELECT %(new)s, code, change, fields::jsonb, successors FROM ({DIFF_ROWS_SQL}) AS diff"
)

_COPIED_COLUMNS = ", ".join(("code", *ITEM_CONTENT_FIELDS))
# A new draft based on a published release: its items copied in one statement (parameters: new, old).
COPY_ITEMS_SQL = (
    f"INSERT INTO catalog_catalogitem (release_id, {_COPIED_COLUMNS}, content_hash) "
    f"SELECT %s, {_COPIED_COLUMNS}, content_hash FROM catalog_catalogitem WHERE release_id = %s"
)


def content_hash_sql(alias: str) -> str:
    """An item's content hash from the row ``alias`` (the diff joins on it): every bulk writer
    computes it in its INSERT ... SELECT; a trigger fills it for inserts without it and on
    updates (migration 0010, which has the same expression)."""
    return "md5(ROW(" + ", ".join(f"{alias}.{f}" for f in ITEM_CONTENT_FIELDS) + ")::text)::uuid"


# --- bulk loads into a draft (items are partitioned by release, migration 0010) -------------


def items_empty(release_id: int) -> bool:
    """The release has no items (its partition is empty): a load into it may go unindexed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT NOT EXISTS (SELECT 1 FROM catalog_catalogitem WHERE release_id = %s)", [release_id])
        return bool(cursor.fetchone()[0])


@contextmanager
def items_unindexed(release_id: int, *, clear: bool = False) -> Iterator[None]:
    """Rows written inside go into the draft's partition without its indexes, which are built
    once afterwards: a sort per index instead of a B-tree insertion per row and index. In the
    caller's transaction: a failure rolls the dropped indexes back with the rows. The partition
    is locked (ACCESS EXCLUSIVE) until commit; readers of other releases never wait. ``clear``
    empties the partition first (TRUNCATE: the caller rewrites the whole draft).

    Only the keys that hold the draft's rules (the primary key, one code per release) are built
    before commit; the readers' indexes and the statistics come after it, from a bulk worker
    (``ITEMS_FINISH_TASK``, ``items_finish``); should that task be lost, the bulk worker's
    sweep (``releases_to_finish``) or a submit makes sure of them (catalog 0016)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        cursor.execute(f"SELECT catalog_item_partition_{'clear' if clear else 'unindex'}(%s)", [release_id])
    yield
    with connection.cursor() as cursor:
        cursor.execute("SELECT catalog_item_partition_index_keys(%s)", [release_id])
    # robust: a broker down at that moment must not fail what has committed (the sweep or a submit finishes it).
    transaction.on_commit(lambda: current_app.tasks[ITEMS_FINISH_TASK].delay(release_id), robust=True)


ITEMS_FINISH_TASK = "catalog.items_finish"


def items_finish(release_id: int) -> bool:
    """The readers' indexes of a draft's items and item history after a bulk load, and fresh
    statistics of the items (their readers, hospitals once it is published, would plan them as
    a hundred rows): True when some were missing and are now built, False when there was
    nothing to do (catalog 0016, 0018)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        cursor.execute("SELECT catalog_item_partition_finish(%s)", [release_id])
        items = bool(cursor.fetchone()[0])
        if items:
            # Through core_analyze: the application's role owns no table.
            cursor.execute("SELECT core_analyze(catalog_item_partition_name(%s)::regclass)", [release_id])
    history = item_history_index(release_id)
    return items or history


def releases_to_finish() -> list[int]:
    """The releases a bulk load left unfinished whose ``ITEMS_FINISH_TASK`` never ran (a broker
    down at commit, a message lost): an items partition without its readers' indexes (only the
    keys, ``items_unindexed``: a draft loaded from a file or copied from a release), or an item
    history partition without its own (0018; also of a draft deleted since, whose history
    stays). Committed state only: a load still running has its indexes until it commits."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT substring(c.relname FROM '_r([0-9]+)$')::bigint
              FROM (VALUES ('catalog_catalogitem'::regclass, '_kind'), ('catalog_historicalcatalogitem'::regclass, '_id'))
                   AS parent(relation, marker)
              JOIN pg_inherits i ON i.inhparent = parent.relation
              JOIN pg_class c ON c.oid = i.inhrelid
             WHERE c.relname ~ '_r[0-9]+$'
               AND NOT EXISTS (SELECT 1 FROM pg_class x WHERE x.relname = c.relname || parent.marker AND x.relnamespace = c.relnamespace)
             ORDER BY 1
            """
        )
        return [int(release_id) for (release_id,) in cursor.fetchall()]


# --- item history (partitioned by release, migration 0014) --------------------------------


def item_history_index(release_id: int) -> bool:
    """The readers' indexes of the release's item history partition, when it lacks them (0018)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT catalog_item_history_partition_index(%s)", [release_id])
        return bool(cursor.fetchone()[0])


def item_history_partition_ensure(release_id: int, *, using: str = "default") -> None:
    """Make the release's history partition if it has none yet (before a history row of the
    release is written one by one or for some of its items)."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT catalog_item_history_partition_ensure(%s)", [release_id])


def item_history_partition_ready(sender: Any, history_instance: Any, using: str | None = None, **kwargs: Any) -> None:
    """simple-history's ``pre_create_historical_record`` receiver for items: the partition of the
    row's release exists before the row is saved (an edit, a deletion, an item saved in a test)."""
    item_history_partition_ensure(history_instance.release_id, using=using or "default")


def item_history_load(*, release_id: int, history_type: str, reason: str, user_id: int | None, at: dt.datetime) -> int:
    """History rows of every item of the release; the count. A release without history yet
    (a new draft's first load) gets them in a table of its own, indexed and its user key checked
    as it is attached: a sort per index and one query, where the parent pays a B-tree insertion
    per row and index and a key check per row."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT catalog_item_history_load(%s, %s, %s, %s, %s)", [release_id, history_type, reason, user_id, at])
        return int(cursor.fetchone()[0])


# --- exports ------------------------------------------------------------------------------


def export_csv_select(release_id: int) -> str:
    """The canonical CSV's rows ordered by code: text cells that spreadsheets would read as a
    formula get a leading ' (as exports.neutralise_formula does), ``replaces`` is joined by ;."""
    columns = []
    for column in CANONICAL_COLUMNS:
        if column in ITEM_TEXT_FIELDS:
            columns.append(f"CASE WHEN left({column}, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r') THEN '''' || {column} ELSE {column} END")
        elif column == "replaces":
            # Most items replace nothing: skip the per-row subquery for them (15% of this query).
            columns.append(
                "CASE WHEN replaces = '[]'::jsonb THEN '' ELSE array_to_string(ARRAY(SELECT jsonb_array_elements_text(replaces)), ';') END"
            )
        else:
            columns.append(column)
    return f"SELECT {', '.join(columns)} FROM catalog_catalogitem WHERE release_id = {int(release_id)} ORDER BY code"


def export_jsonl_select(release_id: int) -> str:
    """One JSON object (as text) per item, ordered by code; self_pay_ratio as text keeps "0.1000".

    ``row_to_json`` of a row of the canonical columns: a third faster than ``json_build_object``
    of 20 key/value pairs at 50k items (issue 22) and without its blanks around ':' and ','."""
    columns = ", ".join(f"{c}::text AS {c}" if c == "self_pay_ratio" else c for c in CANONICAL_COLUMNS)
    return (
        f"SELECT row_to_json(item)::text FROM (SELECT {columns} FROM catalog_catalogitem"
        f" WHERE release_id = {int(release_id)} ORDER BY code) AS item"
    )


# --- fragments for other apps -------------------------------------------------------------


def item_join(*, alias: str, release_id: str, code: str) -> str:
    """``JOIN`` the catalog items of one release by code, for another app's statement.

    ``release_id`` and ``code`` are SQL expressions of the caller's query; the items are then
    readable as ``<alias>.category``, ``<alias>.self_pay_ratio``, ... (served by the
    ``(release_id, code)`` unique index).
    """
    return f"JOIN catalog_catalogitem {alias} ON {alias}.release_id = {release_id} AND {alias}.code = {code}"
