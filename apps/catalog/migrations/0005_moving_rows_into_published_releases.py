"""A row may not be moved into a published release either (issue 15).

Migration 0002's UPDATE triggers on items and stored diff rows looked at the old rows only, so
``UPDATE catalog_catalogitem SET release_id = <published>`` slipped a draft's item into a
published release. The UPDATE triggers now see the old and the new rows. Both guard functions
pin ``search_path`` (schema first, ``pg_temp`` last): a temporary table named
``catalog_catalogrelease`` with no published row would otherwise be read instead of ours.
"""

from django.db import migrations

TABLES = ("catalog_catalogitem", "catalog_releasechange")

FUNCTION = r"""
CREATE OR REPLACE FUNCTION catalog_rows_moved_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = {path} AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM (SELECT release_id FROM old_rows UNION ALL SELECT release_id FROM new_rows) c
               JOIN catalog_catalogrelease r ON r.id = c.release_id
               WHERE r.status = 'published') THEN
        RAISE EXCEPTION '% on % touches a published catalog release', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;
ALTER FUNCTION catalog_rows_of_published_guard() SET search_path = {path};
"""


def pinned_search_path(schema_editor) -> str:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT quote_ident(current_schema())")
        return f"{cursor.fetchone()[0]}, pg_temp"


def forwards(apps, schema_editor):
    schema_editor.execute(FUNCTION.replace("{path}", pinned_search_path(schema_editor)), None)
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER {table}_immutable_update ON {table}")
        schema_editor.execute(
            f"CREATE TRIGGER {table}_immutable_update AFTER UPDATE ON {table} "
            f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
            f"EXECUTE FUNCTION catalog_rows_moved_guard()"
        )


def backwards(apps, schema_editor):
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER {table}_immutable_update ON {table}")
        schema_editor.execute(
            f"CREATE TRIGGER {table}_immutable_update AFTER UPDATE ON {table} "
            f"REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT "
            f"EXECUTE FUNCTION catalog_rows_of_published_guard()"
        )
    schema_editor.execute("DROP FUNCTION IF EXISTS catalog_rows_moved_guard()")
    schema_editor.execute("ALTER FUNCTION catalog_rows_of_published_guard() RESET search_path")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0004_history_reasons_as_text")]
    operations = [migrations.RunPython(forwards, backwards)]
