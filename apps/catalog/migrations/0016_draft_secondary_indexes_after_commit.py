"""A bulk load into a draft builds only the indexes that hold its rules, and a bulk worker builds
the others after the load commits (issue 22).

A load into a draft's empty partition drops its indexes, writes the rows and builds the indexes
once after them. Of the six, two hold the draft's invariants: the primary key and the unique code
per release. The four others serve readers (by kind, by category path, who replaces what); their
builds were 1.5–1.8 s of a 500,000-row import here, and a draft is read by a few people until it
is published. So:

- ``catalog_item_partition_index_keys(release)`` builds the two keys (the load calls it before
  it commits);
- ``catalog_item_partition_index(release)`` builds what is missing of all six, as before (and
  calls the first);
- ``catalog_item_partition_finish(release)`` builds the four others when the partition lacks
  them and says whether it did (then the caller refreshes the partition's statistics). The
  bulk worker calls it after the load commits; a submit calls it too, so a release is never
  reviewed or published without them (a lost task costs that submit the builds).

And ``catalog_import_row_refused(line)``, which stops a file loaded straight into an empty draft
at its first row that breaks a rule (``importers.sql.load_fresh``).
"""

from importlib import import_module

from django.db import migrations

from apps.core.partitioning import schema_path

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION catalog_item_partition_index_keys(release bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
DECLARE
    p text := catalog_item_partition_name(release);
BEGIN
    EXECUTE format('CREATE UNIQUE INDEX IF NOT EXISTS %I ON %I (id)', p || '_pkey', p);
    EXECUTE format('CREATE UNIQUE INDEX IF NOT EXISTS %I ON %I (release_id, code)', p || '_code', p);
END $$;

CREATE OR REPLACE FUNCTION catalog_item_partition_index(release bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
DECLARE
    p text := catalog_item_partition_name(release);
BEGIN
    PERFORM catalog_item_partition_index_keys(release);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (release_id, kind, code)', p || '_kind', p);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (release_id, category_path varchar_pattern_ops)', p || '_path', p);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I USING gin (replaces jsonb_path_ops)', p || '_replaces', p);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (release_id) WHERE replaces <> ''[]''::jsonb', p || '_has_replaces', p);
END $$;

-- A row of an import loaded straight into an empty draft breaks a rule: the load stops (the
-- importer then runs its checks for the report). Called only for such a row (in a CASE).
CREATE OR REPLACE FUNCTION catalog_import_row_refused(line bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'line % of the file breaks an import rule', line USING ERRCODE = 'check_violation';
END $$;

-- True when it built the readers' indexes (a load had dropped them); false when the partition
-- had them already or does not exist.
CREATE OR REPLACE FUNCTION catalog_item_partition_finish(release bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
DECLARE
    p text := catalog_item_partition_name(release);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_class WHERE relname = p AND relnamespace = current_schema()::regnamespace)
       OR EXISTS (SELECT 1 FROM pg_class WHERE relname = p || '_kind' AND relnamespace = current_schema()::regnamespace) THEN
        RETURN false;
    END IF;
    PERFORM catalog_item_partition_index(release);
    RETURN true;
END $$;
"""


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FUNCTIONS.replace("{path}", schema_path(cursor)))


def backwards(apps, schema_editor):
    # 0013's function, which built all six itself, then the two new ones go.
    before = import_module("apps.catalog.migrations.0013_category_path_index_serves_prefixes")
    with schema_editor.connection.cursor() as cursor:
        path = schema_path(cursor)
        cursor.execute(before.INDEX_FUNCTION.replace("{path}", path).replace("{opclass}", "varchar_pattern_ops"))
        cursor.execute("DROP FUNCTION catalog_item_partition_finish(bigint)")
        cursor.execute("DROP FUNCTION catalog_import_row_refused(bigint)")
        cursor.execute("DROP FUNCTION catalog_item_partition_index_keys(bigint)")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0015_release_changes_partitioned_by_release")]
    operations = [migrations.RunPython(forwards, backwards)]
