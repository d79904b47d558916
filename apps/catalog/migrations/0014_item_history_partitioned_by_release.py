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
- Partitions are reached through the parent only (every role but the owner loses its
  privileges on them); the functions are SECURITY DEFINER and write nothing but history rows of
  the release's own items.
- The partition of a deleted release stays: history outlives what it records.

Not reversible: restore from a backup instead.
"""

import django.db.models.deletion
from django.db import migrations, models

from apps.core.partitioning import convert_to_partitioned, schema_path

TABLE = "catalog_historicalcatalogitem"

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION catalog_item_history_partition_name(release bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'catalog_historicalcatalogitem_r' || release $$;

-- Attach a table made by the two functions below as the release's partition: ATTACH builds the
-- parent's indexes on it and checks the key to the user with one query; then only the owner
-- reaches it directly.
CREATE OR REPLACE FUNCTION catalog_item_history_partition_attach(release bigint) RETURNS void
LANGUAGE plpgsql SET search_path = {path} AS $$
DECLARE
    p text := catalog_item_history_partition_name(release);
    grantee oid;
BEGIN
    EXECUTE format('ALTER TABLE catalog_historicalcatalogitem ATTACH PARTITION %I FOR VALUES IN (%s)', p, release);
    FOR grantee IN SELECT DISTINCT a.grantee FROM pg_class c, aclexplode(c.relacl) a
                    WHERE c.oid = p::regclass AND a.grantee <> c.relowner LOOP
        IF grantee = 0 THEN
            EXECUTE format('REVOKE ALL ON %I FROM PUBLIC', p);
        ELSE
            EXECUTE format('REVOKE ALL ON %I FROM %I', p, pg_get_userbyid(grantee));
        END IF;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION catalog_item_history_partition_attach(bigint) FROM PUBLIC;

-- The release's history partition, made empty when missing. One maker at a time: the second
-- waits for the first's transaction and then finds its table.
CREATE OR REPLACE FUNCTION catalog_item_history_partition_ensure(release bigint) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
DECLARE
    p text := catalog_item_history_partition_name(release);
BEGIN
    IF to_regclass(p) IS NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext('partition:' || p));
        IF to_regclass(p) IS NULL THEN
            EXECUTE format('CREATE TABLE %I (LIKE catalog_historicalcatalogitem INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', p);
            PERFORM catalog_item_history_partition_attach(release);
        END IF;
    END IF;
    RETURN p;
END $$;

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
    PERFORM pg_advisory_xact_lock(hashtext('partition:' || p));
    IF to_regclass(p) IS NOT NULL THEN
        EXECUTE format('INSERT INTO catalog_historicalcatalogitem (%s, history_date, history_change_reason, history_type, history_user_id) '
                       'SELECT %s, $1, $2, $3, $4 FROM catalog_catalogitem WHERE release_id = $5', columns, columns)
            USING at, reason, kind, actor, release;
        GET DIAGNOSTICS written = ROW_COUNT;
        RETURN written;
    END IF;
    -- The CHECK spares ATTACH its scan for rows of other releases; it goes once attached. The
    -- history ids come from the parent's sequence, which hands them out a thousand at a time.
    EXECUTE format('CREATE TABLE %I (LIKE catalog_historicalcatalogitem INCLUDING DEFAULTS INCLUDING CONSTRAINTS, '
                   'CONSTRAINT %I CHECK (release_id = %s))', p, p || '_release', release);
    EXECUTE format('INSERT INTO %I (history_id, %s, history_date, history_change_reason, history_type, history_user_id) '
                   'SELECT nextval(%L::regclass), %s, $1, $2, $3, $4 FROM catalog_catalogitem WHERE release_id = $5',
                   p, columns, pg_get_serial_sequence('catalog_historicalcatalogitem', 'history_id'), columns)
        USING at, reason, kind, actor, release;
    GET DIAGNOSTICS written = ROW_COUNT;
    PERFORM catalog_item_history_partition_attach(release);
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', p, p || '_release');
    RETURN written;
END $$;
"""


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT release_id FROM {TABLE} ORDER BY 1")
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
        cursor.execute(FUNCTIONS.replace("{path}", path))
        # A history id per row: from a block a session holds, not a locked sequence page each time.
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN history_id SET CACHE 1000")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0013_category_path_index_serves_prefixes")]
    operations = [
        # Two indexes go: the release's (each partition holds one release) and the date's (item
        # history is read per item; see catalog.models.ItemHistoricalRecords).
        migrations.AlterField(model_name="historicalcatalogitem", name="history_date", field=models.DateTimeField()),
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
