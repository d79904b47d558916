"""A release's stored diff (``catalog_releasechange``) becomes a table partitioned by release
(LIST (release_id), issue 22), so the diff of a first release, every item "added" (500,000 rows
at national size), is written into a table of its own and indexed once by ATTACH, instead of
three B-trees of a shared table kept up row by row (2.8–3.5 s of a 7 s publish here; 1.6 s so).

- The parent keeps the columns, the id's identity sequence (continued), the indexes (the
  primary key becomes (id, release_id)), the statement triggers (immutability, the release's
  key checked per statement) and the grants (``core.partitioning.convert_to_partitioned``).
  Each release with stored changes gets ``catalog_releasechange_r<release>``.
- A release's partition is made when its diff is stored, at publish: by
  ``catalog_release_changes_load_all_added`` for a first release (it writes the rows into a new
  table before attaching it, when the release has no partition yet) and by
  ``catalog_release_changes_partition_ensure`` before a renewal's diff goes through the parent.
  Both take only the release's id (no SQL from the caller), make a partition only for an
  approved release (only a publish stores a diff, and the parent's guard refuses rows of a
  published release; the load refuses any other release) and one session at a time.
- Partitions are reached through the parent only (every role but the owner loses its
  privileges on them), whose statement triggers guard every write.
- Deploy: stop the old code first (it would store a diff that no partition takes).

Not reversible: restore from a backup instead.
"""

from django.db import migrations

from apps.core.partitioning import convert_to_partitioned, release_partition_functions, schema_path

TABLE = "catalog_releasechange"
PARTITION_FUNCTIONS = {
    "parent": TABLE,
    "prefix": "catalog_release_changes",
    "owner": "catalog_catalogrelease",
    "condition": "status = 'approved'",
    "refusal": (
        "'catalog release % does not exist or is not approved: only a publish stores its changes', release "
        "USING ERRCODE = 'integrity_constraint_violation'"
    ),
}

FUNCTIONS = r"""
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
    -- A table of its own, attached after the rows (see core.partitioning).
    PERFORM catalog_release_changes_partition_open(release);
    EXECUTE format('INSERT INTO %I (id, release_id, code, change, fields, successors) '
                   'SELECT nextval(%L::regclass), $1, code, ''added'', ''{}''::jsonb, ''[]''::jsonb '
                   'FROM catalog_catalogitem WHERE release_id = $1 ORDER BY code',
                   p, pg_get_serial_sequence('catalog_releasechange', 'id'))
        USING release;
    GET DIAGNOSTICS written = ROW_COUNT;
    PERFORM catalog_release_changes_partition_attach(release);
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
        cursor.execute(release_partition_functions(**PARTITION_FUNCTIONS, path=path))
        cursor.execute(FUNCTIONS.replace("{path}", path))


class Migration(migrations.Migration):
    dependencies = [("catalog", "0014_item_history_partitioned_by_release")]
    operations = [migrations.RunPython(forwards)]
