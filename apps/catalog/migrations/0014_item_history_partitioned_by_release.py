"""Item history becomes a table partitioned by release (LIST (release_id), issue 22), so the
history of a bulk load into an empty draft is written the way the items are: into a table of its
own without indexes, which ATTACH PARTITION then indexes and checks in one pass each, instead
of five B-trees kept up row by row and the user's foreign key checked once per row at commit.

- The parent keeps the columns, the identity sequence of ``history_id`` (continued), the
  indexes (the primary key becomes (history_id, release_id), as PostgreSQL requires), the key to
  the user and the grants (``core.partitioning.convert_to_partitioned``), less the indexes on
  the release, which a partition of one release does not need, and on the date, which no
  reader of item history uses. Each release with history gets its
  partition ``catalog_historicalcatalogitem_r<release>``.
- A release's partition is made at its first history row, not with the release:
  ``catalog_item_history_partition_ensure`` (CREATE TABLE, then ATTACH, which takes SHARE UPDATE
  EXCLUSIVE on the parent where CREATE TABLE ... PARTITION OF takes ACCESS EXCLUSIVE) before a
  history row of a release is written one by one or for some items, and
  ``catalog_item_history_load`` for the history of every item of a release, which fills a new
  table before attaching it when the release has no history yet.
- A draft copied from a published release gets its (empty) partition when it is made, with its
  items, and so does every release with items or history here: a partition made inside a long
  import would hold ATTACH's lock on the users' table (for the key) until the import commits.
- Partitions are reached through the parent only (every role but the owner loses its
  privileges on them); the functions are SECURITY DEFINER, refuse a release that does not exist
  and write nothing but history rows of the release's own items.
- Ids: the primary key (history_id, release_id) makes history_id unique only with the parent's
  sequence, which every writer uses, as the items' ids are (until 0017: a new draft's bulk-loaded
  history takes minus the item's id).
- Deploy: stop the old code first (it would write history rows no partition takes).
- The partition of a deleted release stays: history outlives what it records.

Not reversible: restore from a backup instead.
"""

import django.db.models.deletion
from django.db import migrations, models

from apps.core.partitioning import convert_to_partitioned, release_partition_functions, schema_path

TABLE = "catalog_historicalcatalogitem"
PARTITION_FUNCTIONS = {
    "parent": TABLE,
    "prefix": "catalog_item_history",
    "owner": "catalog_catalogrelease",
    "condition": "true",
    "refusal": "'no catalog release %', release USING ERRCODE = 'foreign_key_violation'",
}

FUNCTIONS = r"""
-- One history row (kind '+', '~' or '-') for every item of the release; the count. A release
-- without history yet gets its partition filled before it is attached; otherwise the rows go
-- through the parent.
CREATE OR REPLACE FUNCTION catalog_item_history_load(release bigint, kind text, reason text, actor integer, at timestamptz)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
DECLARE
    p text := catalog_item_history_partition_name(release);
    columns text;
    written bigint;
BEGIN
    IF kind IS NULL OR kind NOT IN ('+', '~', '-') THEN
        RAISE EXCEPTION 'history type must be +, ~ or -, not %', kind USING ERRCODE = 'check_violation';
    END IF;
    -- the item's columns the history table has (simple-history's copy of the model's fields)
    SELECT string_agg(quote_ident(i.attname), ', ' ORDER BY i.attnum) INTO columns
      FROM pg_attribute i
      JOIN pg_attribute h ON h.attrelid = 'catalog_historicalcatalogitem'::regclass AND h.attname = i.attname
                         AND h.attnum > 0 AND NOT h.attisdropped
     WHERE i.attrelid = 'catalog_catalogitem'::regclass AND i.attnum > 0 AND NOT i.attisdropped;
    IF NOT catalog_item_history_partition_claim(release) THEN
        EXECUTE format('INSERT INTO catalog_historicalcatalogitem (%s, history_date, history_change_reason, history_type, history_user_id) '
                       'SELECT %s, $1, $2, $3, $4 FROM catalog_catalogitem WHERE release_id = $5', columns, columns)
            USING at, reason, kind, actor, release;
        GET DIAGNOSTICS written = ROW_COUNT;
        RETURN written;
    END IF;
    -- A table of its own, attached after the rows (see core.partitioning). The
    -- history ids come from the parent's sequence, a thousand at a time.
    PERFORM catalog_item_history_partition_open(release);
    EXECUTE format('INSERT INTO %I (history_id, %s, history_date, history_change_reason, history_type, history_user_id) '
                   'SELECT nextval(%L::regclass), %s, $1, $2, $3, $4 FROM catalog_catalogitem WHERE release_id = $5',
                   p, columns, pg_get_serial_sequence('catalog_historicalcatalogitem', 'history_id'), columns)
        USING at, reason, kind, actor, release;
    GET DIAGNOSTICS written = ROW_COUNT;
    PERFORM catalog_item_history_partition_attach(release);
    RETURN written;
END $$;
"""


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        # No history row may come in between (it could name a release without a partition).
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        # Every release with history or items gets its partition now: a release's partition is
        # otherwise made at its first history row, and a draft copied from a published release
        # (items, no history yet) would make it in a long import (ATTACH holds a lock on the
        # users' table until commit).
        cursor.execute(
            f"SELECT DISTINCT release_id FROM {TABLE} UNION "
            "SELECT r.id FROM catalog_catalogrelease r WHERE EXISTS (SELECT 1 FROM catalog_catalogitem i WHERE i.release_id = r.id) "
            "ORDER BY 1"
        )
        releases = [row[0] for row in cursor.fetchall()]
        if None in releases:
            raise RuntimeError(f"{TABLE} has rows without a release: the partition key must be set")
        path = schema_path(cursor)
    convert_to_partitioned(
        schema_editor=schema_editor,
        table=TABLE,
        key="release_id",
        method="LIST",
        partitions=[(f"{TABLE}_r{release}", f"FOR VALUES IN ({int(release)})") for release in releases],
        identity="history_id",
    )
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(release_partition_functions(**PARTITION_FUNCTIONS, path=path))
        cursor.execute(FUNCTIONS.replace("{path}", path))
        # A bulk load takes an id per row: from a block its session holds, not a locked sequence
        # page each time (ids then follow time within a session only; readers order by date).
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN history_id SET CACHE 1000")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0013_category_path_index_serves_prefixes")]
    operations = [
        # Two indexes go: the release's (each partition holds one release) and the date's (item
        # history is read per item; see catalog.models.ItemHistoricalRecords).
        migrations.AlterField(model_name="historicalcatalogitem", name="history_date", field=models.DateTimeField()),
        # 64-bit ids, handed out a thousand to a session (below).
        migrations.AlterField(
            model_name="historicalcatalogitem",
            name="history_id",
            field=models.BigAutoField(editable=False, primary_key=True, serialize=False),
        ),
        migrations.AlterField(
            model_name="historicalcatalogitem",
            name="release",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="catalog.catalogrelease",
                verbose_name="release",
            ),
        ),
        migrations.RunPython(forwards),
    ]
