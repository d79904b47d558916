"""``core_analyze(table)``: fresh planner statistics for a role that owns nothing.

PostgreSQL 15 lets only a table's owner ANALYZE it (others get a WARNING and nothing happens),
yet bulk imports end with ANALYZE because the plan of the step that follows depends on it. The
application connects as a role that owns no table (``apps.core.dbroles``), so it calls this
SECURITY DEFINER function instead: it runs ANALYZE as the owner, for an ordinary or partitioned
table of the application's schema only (not a catalog, not another schema, not a temporary
table that shadows a name).
"""

from django.db import migrations

SQL = r"""
CREATE OR REPLACE FUNCTION core_analyze(relation regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE c.oid = relation AND n.nspname = {schema} AND c.relkind IN ('r', 'p')) THEN
        RAISE EXCEPTION 'core_analyze: % is not a table of schema %', relation, {schema}
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('ANALYZE %s', relation);
END $$;
"""


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT quote_ident(current_schema()), quote_literal(current_schema())")
        ident, literal = cursor.fetchone()
    schema_editor.execute(SQL.replace("{path}", f"{ident}, pg_temp").replace("{schema}", literal), None)


def backwards(apps, schema_editor):
    schema_editor.execute("DROP FUNCTION IF EXISTS core_analyze(regclass)")


class Migration(migrations.Migration):
    dependencies = [("core", "0003_outgoing_email")]
    operations = [migrations.RunPython(forwards, backwards)]
