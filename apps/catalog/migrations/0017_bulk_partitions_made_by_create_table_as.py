"""The two bulk loads into a release's partition-to-be (a new draft's item history, catalog 0014;
a first release's stored diff, 0015) make the table with CREATE TABLE AS from their query
(``{prefix}_partition_open_as``, core.partitioning), where they made it empty and INSERTed into it.

Here CREATE TABLE AS wrote 500,000 item-history rows in 0.85 s where the INSERT took 1.15–1.4 s
(a ring of buffers and no free-space lookups; the WAL is the same). What ATTACH asks of the table
(the parent's NOT NULL and CHECK constraints, under their names) comes after the rows, in one
ALTER with one scan (0.09 s). History rows matter twice: issue 22 allows them a fifth of an
import, and an import without them got faster.

The item history rows of such a load take the ids minus the item's id (one such row per item
ever: the load that makes its release's history partition; item ids are positive and unique)
instead of a sequence call per row (0.35 s of 500,000 here); every other history row takes the
sequence's positive ids. Ids stay unique across releases, as simple-history's pages need, and
the sequence is never set past them (Django's sequence reset reads max(history_id)).

Through the parent (a release with a partition already) nothing changes.

Not reversible (nothing to undo but faster functions): restore from a backup instead.
"""

from importlib import import_module

from django.db import migrations

from apps.core.partitioning import release_partition_functions, schema_path

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION catalog_item_history_load(release bigint, kind text, reason text, actor integer, at timestamptz)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
DECLARE
    columns text;
    written bigint;
BEGIN
    IF kind IS NULL OR kind NOT IN ('+', '~', '-') THEN
        RAISE EXCEPTION 'history type must be +, ~ or -, not %', kind USING ERRCODE = 'check_violation';
    END IF;
    IF NOT catalog_item_history_partition_claim(release) THEN
        -- the item's columns the history table has (simple-history's copy of the model's fields)
        SELECT string_agg(quote_ident(i.attname), ', ' ORDER BY i.attnum) INTO columns
          FROM pg_attribute i
          JOIN pg_attribute h ON h.attrelid = 'catalog_historicalcatalogitem'::regclass AND h.attname = i.attname
                             AND h.attnum > 0 AND NOT h.attisdropped
         WHERE i.attrelid = 'catalog_catalogitem'::regclass AND i.attnum > 0 AND NOT i.attisdropped;
        EXECUTE format('INSERT INTO catalog_historicalcatalogitem (%s, history_date, history_change_reason, history_type, history_user_id) '
                       'SELECT %s, $1, $2, $3, $4 FROM catalog_catalogitem WHERE release_id = $5', columns, columns)
            USING at, reason, kind, actor, release;
        GET DIAGNOSTICS written = ROW_COUNT;
        RETURN written;
    END IF;
    -- A table of its own, made from the items, attached after (see core.partitioning). Each
    -- item's first history row, written here once (the release had none), takes the id minus
    -- the item's id: unique without a sequence call per row (0.35 s of 500,000), as the
    -- sequence, which every other row takes, gives positive ids.
    written := catalog_item_history_partition_open_as(
        release,
        format('SELECT * FROM catalog_catalogitem WHERE release_id = %s', release),
        jsonb_build_object(
            'history_id', '-s.id',
            'history_date', quote_literal(at),
            'history_change_reason', quote_nullable(reason),
            'history_type', quote_literal(kind),
            'history_user_id', quote_nullable(actor)));
    PERFORM catalog_item_history_partition_attach(release);
    RETURN written;
END $$;

CREATE OR REPLACE FUNCTION catalog_release_changes_load_all_added(release bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
DECLARE
    written bigint;
BEGIN
    IF NOT catalog_release_changes_partition_claim(release) THEN
        INSERT INTO catalog_releasechange (release_id, code, change, fields, successors)
        SELECT release, code, 'added', '{}'::jsonb, '[]'::jsonb FROM catalog_catalogitem WHERE release_id = release ORDER BY code;
        GET DIAGNOSTICS written = ROW_COUNT;
        RETURN written;
    END IF;
    -- A table of its own, made from the items in code order, attached after (see core.partitioning).
    written := catalog_release_changes_partition_open_as(
        release,
        format('SELECT code FROM catalog_catalogitem WHERE release_id = %s ORDER BY code', release),
        jsonb_build_object(
            'id', format('nextval(%L::regclass)', pg_get_serial_sequence('catalog_releasechange', 'id')),
            'release_id', release::text,
            'change', quote_literal('added'),
            'fields', quote_literal('{}'),
            'successors', quote_literal('[]')));
    PERFORM catalog_release_changes_partition_attach(release);
    RETURN written;
END $$;
"""


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        path = schema_path(cursor)
        for migration in ("0014_item_history_partitioned_by_release", "0015_release_changes_partitioned_by_release"):
            template = import_module(f"apps.catalog.migrations.{migration}").PARTITION_FUNCTIONS
            cursor.execute(release_partition_functions(**template, path=path))
        cursor.execute(FUNCTIONS.replace("{path}", path))


class Migration(migrations.Migration):
    dependencies = [("catalog", "0016_draft_secondary_indexes_after_commit")]
    operations = [migrations.RunPython(forwards)]
