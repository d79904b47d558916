"""Catalog items become a table partitioned by release (LIST (release_id), one partition per
release; issue 22), so a bulk load into a draft writes an unindexed table and builds its
indexes once, after the rows, instead of maintaining six B-trees row by row.

- The parent ``catalog_catalogitem`` has the columns (LIKE the old table: the check
  constraints and the id's identity come along) and the statement triggers of
  migrations 0002/0005 (transition tables see the rows of every partition a statement on the
  parent touches). It has no index of its own: each partition has its own (``r<release>_…``:
  primary key on id, UNIQUE (release_id, code), (release_id, kind, code), (release_id,
  category_path), the GIN on ``replaces`` and the partial index of items that replace something),
  which ``catalog_item_partition_unindex`` / ``catalog_item_partition_index`` drop and build
  around a bulk load into an empty draft (``catalog_item_partition_clear`` also empties a
  draft's partition, for an import that rewrites most of it). Ids stay unique through the one sequence.
- ``content_hash`` is no longer a generated column (its md5 over 33 concatenations was half the
  cost of loading a row): writers compute it in their INSERT ... SELECT with the cheaper
  ``md5(ROW(<content fields>)::text)`` (``catalog.sql.content_hash_sql``), and a BEFORE row
  trigger fills it for every other insert (WHEN it is NULL: no call per bulk-loaded row) and on
  every update. The hashes of existing items are recomputed with the new expression here.
- No foreign key to the release: the partition bound is the link. A release's partition is made
  when the release is (an AFTER INSERT trigger calling ``catalog_item_partition_ensure``: CREATE
  TABLE then ATTACH, which takes SHARE UPDATE EXCLUSIVE on the parent, so readers of other
  releases never wait) and dropped with it; Django still cascades a release's deletion to its items.
- Partitions are reached through the parent only (as the ledger's, ``core.partitioning``):
  every role but the owner loses its privileges on them; a BEFORE statement trigger on each
  partition refuses any write to a published release's partition by whoever reaches it directly.
- The functions are SECURITY DEFINER (the application's role may not CREATE or drop indexes)
  and act on drafts only.

No table references items (checked). Not reversible: restore from a backup instead.
"""

import django.db.models.deletion
from django.db import migrations, models

from apps.core.partitioning import grant_again, schema_path, table_grants

TABLE = "catalog_catalogitem"

# The content fields in the order the hash reads them (frozen here: the hash of every stored
# item must stay comparable; catalog.sql.content_hash_sql uses ITEM_CONTENT_FIELDS, the same list).
CONTENT_FIELDS = (
    "kind", "name", "generic_name", "dosage_form", "specification", "manufacturer", "unit", "pricing_unit", "category",
    "restriction_text", "restriction_indication", "restriction_max_days", "restriction_hospital_level", "self_pay_ratio",
    "payment_standard_fen", "category_path", "replaces",
)  # fmt: skip


def _hash(alias: str) -> str:
    return "md5(ROW(" + ", ".join(f"{alias}.{f}" for f in CONTENT_FIELDS) + ")::text)::uuid"


HASH_TRIGGERS = [
    f"""CREATE OR REPLACE FUNCTION catalog_item_content_hash_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.content_hash := {_hash("NEW")};
    RETURN NEW;
END $$""",
    "CREATE TRIGGER catalog_item_content_hash_insert BEFORE INSERT ON catalog_catalogitem FOR EACH ROW "
    "WHEN (NEW.content_hash IS NULL) EXECUTE FUNCTION catalog_item_content_hash_fill()",
    "CREATE TRIGGER catalog_item_content_hash_update BEFORE UPDATE ON catalog_catalogitem FOR EACH ROW "
    "EXECUTE FUNCTION catalog_item_content_hash_fill()",
]

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION catalog_item_partition_name(release bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'catalog_catalogitem_r' || release $$;

CREATE OR REPLACE FUNCTION catalog_item_partition_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = {path} AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM catalog_catalogrelease WHERE id = TG_ARGV[0]::bigint AND status = 'published') THEN
        RAISE EXCEPTION '% on % touches a published catalog release', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;

-- The partition's indexes (and primary key), built after a bulk load. Idempotent.
CREATE OR REPLACE FUNCTION catalog_item_partition_index(release bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
DECLARE
    p text := catalog_item_partition_name(release);
BEGIN
    EXECUTE format('CREATE UNIQUE INDEX IF NOT EXISTS %I ON %I (id)', p || '_pkey', p);
    EXECUTE format('CREATE UNIQUE INDEX IF NOT EXISTS %I ON %I (release_id, code)', p || '_code', p);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (release_id, kind, code)', p || '_kind', p);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (release_id, category_path)', p || '_path', p);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I USING gin (replaces jsonb_path_ops)', p || '_replaces', p);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (release_id) WHERE replaces <> ''[]''::jsonb', p || '_has_replaces', p);
END $$;

-- Drop a draft's partition indexes before a bulk load into it (the caller's transaction
-- rebuilds them with catalog_item_partition_index before it commits).
CREATE OR REPLACE FUNCTION catalog_item_partition_unindex(release bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
DECLARE
    p text := catalog_item_partition_name(release);
    suffix text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM catalog_catalogrelease WHERE id = release AND status = 'draft') THEN
        RAISE EXCEPTION 'catalog release % is not a draft: its items keep their indexes', release
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    FOREACH suffix IN ARRAY ARRAY['_pkey', '_code', '_kind', '_path', '_replaces', '_has_replaces'] LOOP
        EXECUTE format('DROP INDEX IF EXISTS %I', p || suffix);
    END LOOP;
END $$;

-- Empty a draft's partition and drop its indexes: an import that changes much of a draft
-- writes the whole new content back unindexed (TRUNCATE: no dead rows left behind).
CREATE OR REPLACE FUNCTION catalog_item_partition_clear(release bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
BEGIN
    PERFORM catalog_item_partition_unindex(release);
    EXECUTE format('TRUNCATE %I', catalog_item_partition_name(release));
END $$;

-- The release's partition, made when missing: a table LIKE the parent, attached (SHARE UPDATE
-- EXCLUSIVE on the parent, where CREATE TABLE ... PARTITION OF takes ACCESS EXCLUSIVE),
-- indexed, guarded, reached through the parent only.
CREATE OR REPLACE FUNCTION catalog_item_partition_ensure(release bigint) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
DECLARE
    p text := catalog_item_partition_name(release);
    grantee oid;
BEGIN
    IF to_regclass(p) IS NOT NULL THEN
        RETURN p;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE catalog_catalogitem INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', p);
    EXECUTE format('ALTER TABLE catalog_catalogitem ATTACH PARTITION %I FOR VALUES IN (%s)', p, release);
    PERFORM catalog_item_partition_index(release);
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE OR DELETE ON %I FOR EACH STATEMENT '
                   'EXECUTE FUNCTION catalog_item_partition_guard(%s)', p || '_immutable', p, release);
    FOR grantee IN SELECT DISTINCT a.grantee FROM pg_class c, aclexplode(c.relacl) a
                    WHERE c.oid = p::regclass AND a.grantee <> c.relowner LOOP
        IF grantee = 0 THEN
            EXECUTE format('REVOKE ALL ON %I FROM PUBLIC', p);
        ELSE
            EXECUTE format('REVOKE ALL ON %I FROM %I', p, pg_get_userbyid(grantee));
        END IF;
    END LOOP;
    RETURN p;
END $$;

CREATE OR REPLACE FUNCTION catalog_release_partition_made() RETURNS trigger
LANGUAGE plpgsql SET search_path = {path} AS $$
BEGIN
    PERFORM catalog_item_partition_ensure(NEW.id);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION catalog_release_partition_dropped() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS %I', catalog_item_partition_name(OLD.id));
    RETURN NULL;
END $$;
"""

RELEASE_TRIGGERS = [
    "CREATE TRIGGER catalog_release_items_partition AFTER INSERT ON catalog_catalogrelease "
    "FOR EACH ROW EXECUTE FUNCTION catalog_release_partition_made()",
    "CREATE TRIGGER catalog_release_items_partition_drop AFTER DELETE ON catalog_catalogrelease "
    "FOR EACH ROW EXECUTE FUNCTION catalog_release_partition_dropped()",
]


def forwards(apps, schema_editor):
    q = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND confrelid = %s::regclass AND conrelid <> %s::regclass",
            [TABLE, TABLE],
        )
        if cursor.fetchone()[0]:
            raise RuntimeError(f"{TABLE} is referenced by foreign keys: a partitioned table needs the partition key in them")
        path = schema_path(cursor)
        cursor.execute(
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal ORDER BY tgname", [TABLE]
        )
        triggers = [row[0] for row in cursor.fetchall()]
        grants = table_grants(cursor, TABLE)
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
        old_sequence = cursor.fetchone()[0]
        cursor.execute(f"SELECT last_value, is_called FROM {old_sequence}")
        last_value, is_called = cursor.fetchone()

        old = f"{TABLE}_unpartitioned"
        cursor.execute(f"ALTER TABLE {q(TABLE)} RENAME TO {q(old)}")
        cursor.execute(
            f"CREATE TABLE {q(TABLE)} (LIKE {q(old)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY "
            "INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY LIST (release_id)"
        )
        cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, %s)", [TABLE, last_value, is_called])
        grant_again(cursor, q(TABLE), grants)
        cursor.execute(FUNCTIONS.replace("{path}", path))
        for statement in HASH_TRIGGERS:
            cursor.execute(statement)
        cursor.execute("SELECT catalog_item_partition_ensure(id) FROM catalog_catalogrelease ORDER BY id")
        cols = ", ".join(q(c) for c in _columns(cursor, old))
        cursor.execute(f"INSERT INTO {q(TABLE)} ({cols}, content_hash) SELECT {cols}, {_hash('o')} FROM {q(old)} o")
        cursor.execute(f"DROP TABLE {q(old)}")
        # New partitions have no statistics: a reader would plan a 500k-row release as ~100 rows
        # (a hash of the whole release for 10,000 codes). ANALYZE of the parent recurses into them.
        cursor.execute(f"ANALYZE {q(TABLE)}")
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
        cursor.execute(f"ALTER SEQUENCE {cursor.fetchone()[0]} RENAME TO {q(old_sequence.split('.')[-1].strip(chr(34)))}")
        for definition in triggers:  # read before the rename: they name the parent; after the rows
            cursor.execute(definition)
        for statement in RELEASE_TRIGGERS:
            cursor.execute(statement)


def _columns(cursor, table):
    cursor.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' "
        "ORDER BY attnum",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


class Migration(migrations.Migration):
    dependencies = [("catalog", "0011_diff_release_key_checked_per_statement")]
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="catalogitem",
                    name="release",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="items",
                        to="catalog.catalogrelease",
                        verbose_name="release",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forwards)],
        ),
    ]
