"""Item history's indexes on the item and on the user become each partition's own, and the
history of a bulk load gets them after the load commits, with the draft's items' (catalog 0016),
from the bulk worker (issue 22).

ATTACH built the parent's three indexes on a new draft's 500,000 history rows: the key (which
stays the parent's) and the two that serve readers, the item's history (``id``) and the user's
rows (``history_user_id``, for the key to the user). Those two were 0.3 s of the 1.6 s the
history of a 500,000-row import costs here, and issue 22 allows history a fifth of an import.

- The parent's two indexes go (with their partitions' copies);
- ``catalog_item_history_partition_index(release)`` builds both on the release's partition when
  it lacks them (true then): for every partition here now; for a partition made empty
  (``_ensure``, a row saved one by one) at once; after a bulk load (``catalog_item_history_load``)
  by ``catalog.sql.items_finish``, which the bulk worker and a submit run. Until then a reader
  of one item's history scans the new partition (500,000 rows: tens of milliseconds).
- Django's state still gives ``id`` and ``history_user`` an index (simple-history's fields): a
  later AlterField of either must not put a parent-level index back.
- A later migration that applies the template for item history again passes ``ON_ENSURE``.

Deploy: the history table is locked (ACCESS EXCLUSIVE) while every partition's two indexes are
built: item edits wait for the migration. Not reversible: restore from a backup instead.
"""

from importlib import import_module

from django.db import migrations

from apps.core.partitioning import release_partition_functions, schema_path

TABLE = "catalog_historicalcatalogitem"
# What ``catalog_item_history_partition_ensure`` does after it attached a partition it made.
ON_ENSURE = "PERFORM catalog_item_history_partition_index(release);"

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION catalog_item_history_partition_index(release bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
DECLARE
    p text := catalog_item_history_partition_name(release);
BEGIN
    IF NOT catalog_item_history_partition_attached(release)
       OR EXISTS (SELECT 1 FROM pg_class WHERE relname = p || '_id' AND relnamespace = current_schema()::regnamespace) THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (id)', p || '_id', p);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (history_user_id)', p || '_user', p);
    RETURN true;
END $$;
"""


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        path = schema_path(cursor)
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        # The parent's single-column, non-unique indexes on the item and the user (Django named them).
        cursor.execute(
            "SELECT format('DROP INDEX %%I', c.relname) FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
            "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0] "
            "WHERE x.indrelid = %s::regclass AND x.indnatts = 1 AND NOT x.indisunique AND a.attname IN ('id', 'history_user_id')",
            [TABLE],
        )
        for (drop,) in cursor.fetchall():
            cursor.execute(drop)
        cursor.execute(FUNCTIONS.replace("{path}", path))
        template = import_module("apps.catalog.migrations.0014_item_history_partitioned_by_release").PARTITION_FUNCTIONS
        cursor.execute(release_partition_functions(**template, path=path, on_ensure=ON_ENSURE))
        cursor.execute(
            "SELECT catalog_item_history_partition_index(substring(c.relname FROM '_r([0-9]+)$')::bigint) "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [TABLE],
        )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0017_bulk_partitions_made_by_create_table_as")]
    operations = [migrations.RunPython(forwards)]
