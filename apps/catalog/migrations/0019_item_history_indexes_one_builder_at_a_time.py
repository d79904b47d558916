"""One builder at a time for an item history partition's readers' indexes (catalog 0018).

A deleted draft's history partition outlives its release, so nothing holds a release row while
``catalog_item_history_partition_index`` builds its indexes: two bulk workers' sweeps
(``catalog.items_finish_due``), or a sweep and a late ``catalog.items_finish``, could both find
the index missing and both CREATE it, and ``IF NOT EXISTS`` does not stop the second (a unique
violation on the catalog's relation names). The function now takes the partition's advisory
lock (the key ``_claim`` uses) and looks again; the second builder finds the first's indexes.

Not reversible (nothing to undo but a lock): restore from a backup instead.
"""

from django.db import migrations

from apps.core.partitioning import schema_path

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
    PERFORM pg_advisory_xact_lock(hashtext('partition:' || p));
    IF EXISTS (SELECT 1 FROM pg_class WHERE relname = p || '_id' AND relnamespace = current_schema()::regnamespace) THEN
        RETURN false;  -- built by the holder we waited for
    END IF;
    EXECUTE format('CREATE INDEX %I ON %I (id)', p || '_id', p);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (history_user_id)', p || '_user', p);
    RETURN true;
END $$;
"""


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FUNCTIONS.replace("{path}", schema_path(cursor)))


class Migration(migrations.Migration):
    dependencies = [("catalog", "0018_item_history_readers_indexes_after_commit")]
    operations = [migrations.RunPython(forwards)]
