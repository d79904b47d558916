"""A release's stored diff (``catalog_releasechange``) becomes a table partitioned by release
(LIST (release_id), issue 22), so the diff of a first release, every item "added" (500,000 rows
at national size), is written into a table of its own and indexed once by ATTACH, instead of
three B-trees of a shared table kept up row by row (3.5 s of a 7 s publish here; 1.9 s so).

- The parent keeps the columns, the id's identity sequence (continued), the indexes (the
  primary key becomes (id, release_id)), the statement triggers (immutability, the release's
  key checked per statement) and the grants (``core.partitioning.convert_to_partitioned``).
  Each release with stored changes gets ``catalog_releasechange_r<release>``.
- A release's partition is made when its diff is stored, at publish: by
  ``catalog_release_changes_load_all_added`` for a first release (it writes the rows into a new
  table before attaching it, when the release has no partition yet) and by
  ``catalog_release_changes_partition_ensure`` before a renewal's diff goes through the parent.
  Both take only the release's id (no SQL from the caller), refuse a release that does not
  exist or is not approved (only a publish stores a diff, and the parent's guard refuses rows of
  a published release), and make a partition one session at a time.
- Partitions are reached through the parent only (every role but the owner loses its
  privileges on them), whose statement triggers guard every write.
- Deploy: stop the old code first (it would store a diff that no partition takes).

Not reversible: restore from a backup instead.
"""

from django.db import migrations

from apps.core.partitioning import convert_to_partitioned, schema_path

TABLE = "catalog_releasechange"

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION catalog_release_changes_partition_name(release bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'catalog_releasechange_r' || release $$;

-- Read from the catalog by a statement of its own (a fresh snapshot; to_regclass answers from
-- the session's cache).
CREATE OR REPLACE FUNCTION catalog_release_changes_partition_attached(release bigint) RETURNS boolean
LANGUAGE sql VOLATILE SET search_path = {path} AS $$
    SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                    WHERE i.inhparent = 'catalog_releasechange'::regclass
                      AND c.relname = catalog_release_changes_partition_name(release))
$$;

-- The caller may make the partition: the release exists and is approved (being published; FOR
-- KEY SHARE until commit), and no other session is making it. True when it is still missing.
CREATE OR REPLACE FUNCTION catalog_release_changes_partition_claim(release bigint) RETURNS boolean
LANGUAGE plpgsql SET search_path = {path} AS $$
BEGIN
    PERFORM 1 FROM catalog_catalogrelease WHERE id = release AND status = 'approved' FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'catalog release % does not exist or is not approved: only a publish stores its changes', release
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('partition:' || catalog_release_changes_partition_name(release)));
    RETURN NOT catalog_release_changes_partition_attached(release);
END $$;

CREATE OR REPLACE FUNCTION catalog_release_changes_partition_attach(release bigint) RETURNS void
LANGUAGE plpgsql SET search_path = {path} AS $$
DECLARE
    p text := catalog_release_changes_partition_name(release);
    grantee oid;
BEGIN
    EXECUTE format('ALTER TABLE catalog_releasechange ATTACH PARTITION %I FOR VALUES IN (%s)', p, release);
    FOR grantee IN SELECT DISTINCT a.grantee FROM pg_class c, aclexplode(c.relacl) a
                    WHERE c.oid = p::regclass AND a.grantee <> c.relowner LOOP
        IF grantee = 0 THEN
            EXECUTE format('REVOKE ALL ON %I FROM PUBLIC', p);
        ELSE
            EXECUTE format('REVOKE ALL ON %I FROM %I', p, pg_get_userbyid(grantee));
        END IF;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION catalog_release_changes_partition_claim(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION catalog_release_changes_partition_attach(bigint) FROM PUBLIC;

-- The release's partition, made empty when missing (a renewal's diff then goes through the parent).
CREATE OR REPLACE FUNCTION catalog_release_changes_partition_ensure(release bigint) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
DECLARE
    p text := catalog_release_changes_partition_name(release);
BEGIN
    IF catalog_release_changes_partition_claim(release) THEN
        EXECUTE format('CREATE TABLE %I (LIKE catalog_releasechange INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', p);
        PERFORM catalog_release_changes_partition_attach(release);
    END IF;
    RETURN p;
END $$;

-- A first release's diff: every item added, in code order; the count. Into a table of its own,
-- attached after the rows, when the release has no partition yet; else through the parent.
CREATE OR REPLACE FUNCTION catalog_release_changes_load_all_added(release bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
DECLARE
    p text := catalog_release_changes_partition_name(release);
    written bigint;
BEGIN
    IF NOT catalog_release_changes_partition_claim(release) THEN
        INSERT INTO catalog_releasechange (release_id, code, change, fields, successors)
        SELECT release, code, 'added', '{}'::jsonb, '[]'::jsonb FROM catalog_catalogitem WHERE release_id = release ORDER BY code;
        GET DIAGNOSTICS written = ROW_COUNT;
        RETURN written;
    END IF;
    -- The CHECK spares ATTACH its scan for rows of other releases; it goes once attached.
    EXECUTE format('CREATE TABLE %I (LIKE catalog_releasechange INCLUDING DEFAULTS INCLUDING CONSTRAINTS, '
                   'CONSTRAINT %I CHECK (release_id = %s))', p, p || '_release', release);
    EXECUTE format('INSERT INTO %I (id, release_id, code, change, fields, successors) '
                   'SELECT nextval(%L::regclass), $1, code, ''added'', ''{}''::jsonb, ''[]''::jsonb '
                   'FROM catalog_catalogitem WHERE release_id = $1 ORDER BY code',
                   p, pg_get_serial_sequence('catalog_releasechange', 'id'))
        USING release;
    GET DIAGNOSTICS written = ROW_COUNT;
    PERFORM catalog_release_changes_partition_attach(release);
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', p, p || '_release');
    RETURN written;
END $$;
"""


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(f"SELECT DISTINCT release_id FROM {TABLE} ORDER BY 1")
        releases = [row[0] for row in cursor.fetchall()]
        path = schema_path(cursor)
    convert_to_partitioned(
        schema_editor=schema_editor,
        table=TABLE,
        key="release_id",
        method="LIST",
        partitions=[(f"{TABLE}_r{release}", f"FOR VALUES IN ({int(release)})") for release in releases],
    )
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FUNCTIONS.replace("{path}", path))


class Migration(migrations.Migration):
    dependencies = [("catalog", "0014_item_history_partitioned_by_release")]
    operations = [migrations.RunPython(forwards)]
