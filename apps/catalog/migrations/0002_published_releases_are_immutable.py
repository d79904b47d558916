"""PostgreSQL triggers: a published release, its items and its stored diff never change.

Items are checked per statement with transition tables, so bulk writes to drafts pay one
check per statement, not one per row. (TRUNCATE is left to operators: tests flush with it.)
"""

from django.db import migrations

TRIGGERS = r"""
CREATE OR REPLACE FUNCTION catalog_release_guard() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'published' THEN
        RAISE EXCEPTION 'catalog release % is published and immutable', OLD.label
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER catalog_release_immutable
    BEFORE UPDATE OR DELETE ON catalog_catalogrelease
    FOR EACH ROW EXECUTE FUNCTION catalog_release_guard();

CREATE OR REPLACE FUNCTION catalog_rows_of_published_guard() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed_rows c JOIN catalog_catalogrelease r ON r.id = c.release_id
               WHERE r.status = 'published') THEN
        RAISE EXCEPTION '% on % touches a published catalog release', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
"""

TABLES = ("catalog_catalogitem", "catalog_releasechange")


def _statement_triggers() -> str:
    sql = []
    for table in TABLES:
        for op, ref in (("INSERT", "NEW TABLE"), ("UPDATE", "OLD TABLE"), ("DELETE", "OLD TABLE")):
            sql.append(
                f"CREATE TRIGGER {table}_immutable_{op.lower()} AFTER {op} ON {table} "
                f"REFERENCING {ref} AS changed_rows FOR EACH STATEMENT "
                f"EXECUTE FUNCTION catalog_rows_of_published_guard();"
            )
    return "\n".join(sql)


FORWARDS = [
    TRIGGERS,
    _statement_triggers(),
    "CREATE INDEX IF NOT EXISTS catalog_item_replaces_gin ON catalog_catalogitem USING gin (replaces jsonb_path_ops)",
]
BACKWARDS = [
    *(f"DROP TRIGGER IF EXISTS {table}_immutable_{op} ON {table}" for table in TABLES for op in ("insert", "update", "delete")),
    "DROP TRIGGER IF EXISTS catalog_release_immutable ON catalog_catalogrelease",
    "DROP FUNCTION IF EXISTS catalog_rows_of_published_guard()",
    "DROP FUNCTION IF EXISTS catalog_release_guard()",
    "DROP INDEX IF EXISTS catalog_item_replaces_gin",
]


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunSQL(FORWARDS, BACKWARDS)]
