"""Declarative partitioning of append-only tables (issue 22): the conversion used by migrations,
the SECURITY DEFINER functions that create a period's partition on demand, and detaching.

``convert_to_partitioned`` rebuilds a table as ``PARTITION BY …`` without knowing its columns:
``CREATE TABLE … (LIKE old INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY …)``,
then every index, unique constraint and primary key of the old table again (unique ones with
the partition key added, which PostgreSQL requires), its foreign keys, its grants, the rows,
its triggers (after the rows, so row and statement triggers do not fire twice on moved rows),
and the names swapped; the identity sequence continues where the old one stopped. Other apps
may have added columns, indexes or triggers to the table before this runs: they come along.

Partitions are reached through the parent only: the parent's statement-level triggers (the
ledger's balances) fire only for statements on the parent, so every role but the owner loses
its privileges on each partition (``partition_revoke_sql``; ``dbroles.app_role_grant`` does the
same after its schema-wide GRANT)."""

from __future__ import annotations

import re
from typing import Any

from django.db import connection as default_connection

# plpgsql statements taking every privilege but the owner's off the table named by the text
# expression {table} (a partition, reached through its parent only); the caller declares
# ``grantee oid``. Every partition-making function and the conversion use them.
_REVOKE_FROM_OTHERS = r"""
    FOR grantee IN SELECT DISTINCT a.grantee FROM pg_class c, aclexplode(c.relacl) a
                    WHERE c.oid = format('%I', {table})::regclass AND a.grantee <> c.relowner LOOP
        IF grantee = 0 THEN
            EXECUTE format('REVOKE ALL ON %I FROM PUBLIC', {table});
        ELSE
            EXECUTE format('REVOKE ALL ON %I FROM %I', {table}, pg_get_userbyid(grantee));
        END IF;
    END LOOP;
"""

PARTITION_FUNCTION_TEMPLATE = (
    r"""
CREATE OR REPLACE FUNCTION {function}({argument}) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
DECLARE
    name text;
    bounds text;
    grantee oid;
BEGIN
    {compute}
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent = '{parent}'::regclass AND c.relname = name) THEN
        RETURN name;
    END IF;
    -- one creator at a time; the second sees the first's table once it has committed (a
    -- detached table of the same name makes CREATE fail: archive and drop it first)
    PERFORM pg_advisory_xact_lock(hashtext('partition:' || name));
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent = '{parent}'::regclass AND c.relname = name) THEN
        RETURN name;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF {parent} FOR VALUES %s', name, bounds);
    -- reached through the parent only: its statement triggers fire for the parent alone
"""
    + _REVOKE_FROM_OTHERS.replace("{table}", "name").lstrip("\n")
    + r"""    RETURN name;
END $$;
"""
)


# A partition per row of an owning table (a catalog release), made when its first rows come, not
# with the row: ``{prefix}_partition_name`` (``{parent}_r<id>``), ``_attached`` (read from the
# catalog by a statement of its own: a fresh snapshot, where to_regclass answers from the
# session's cache, which keeps a "missing" seen before another session made the table), ``_claim``
# (the owning row meets ``{condition}`` and stays, FOR KEY SHARE, until commit, else ``{refusal}``
# is raised; one maker at a time, the second waiting for the first's transaction: true when the
# partition is still missing), ``_open`` (the partition-to-be as a table of its own, to fill
# before it is attached, with a CHECK on the release that spares ATTACH its scan), ``_open_as``
# (the same made by CREATE TABLE AS from a query, which writes rows about twice as fast as an
# INSERT here: a ring of buffers, no free-space lookups; then the parent's NOT NULLs and CHECKs
# and the release's CHECK in one ALTER, one scan), ``_attach``
# (ATTACH, which builds the parent's indexes and checks its foreign keys in one pass each; then
# the CHECK goes and every role but the owner loses its privileges on the table) and ``_ensure``
# (SECURITY DEFINER: the partition, made empty when missing). ``_claim``, ``_open``,
# ``_open_as`` and ``_attach`` serve the owner's own functions only. Placeholders are replaced with str.replace
# (``release_partition_functions``).
RELEASE_PARTITION_TEMPLATE = (
    r"""
CREATE OR REPLACE FUNCTION {prefix}_partition_name(release bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT '{parent}_r' || release $$;

CREATE OR REPLACE FUNCTION {prefix}_partition_attached(release bigint) RETURNS boolean
LANGUAGE sql VOLATILE SET search_path = {path} AS $$
    SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                    WHERE i.inhparent = '{parent}'::regclass AND c.relname = {prefix}_partition_name(release))
$$;

CREATE OR REPLACE FUNCTION {prefix}_partition_claim(release bigint) RETURNS boolean
LANGUAGE plpgsql SET search_path = {path} AS $$
BEGIN
    PERFORM 1 FROM {owner} WHERE id = release AND {condition} FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION {refusal};
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('partition:' || {prefix}_partition_name(release)));
    RETURN NOT {prefix}_partition_attached(release);
END $$;

CREATE OR REPLACE FUNCTION {prefix}_partition_attach(release bigint) RETURNS void
LANGUAGE plpgsql SET search_path = {path} AS $$
DECLARE
    p text := {prefix}_partition_name(release);
    grantee oid;
BEGIN
    EXECUTE format('ALTER TABLE {parent} ATTACH PARTITION %I FOR VALUES IN (%s)', p, release);
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT IF EXISTS %I', p, p || '_release');
"""
    + _REVOKE_FROM_OTHERS.replace("{table}", "p").lstrip("\n")
    + r"""END $$;

CREATE OR REPLACE FUNCTION {prefix}_partition_open(release bigint) RETURNS text
LANGUAGE plpgsql SET search_path = {path} AS $$
DECLARE
    p text := {prefix}_partition_name(release);
BEGIN
    EXECUTE format('CREATE TABLE %I (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS, '
                   'CONSTRAINT %I CHECK (release_id = %s))', p, p || '_release', release);
    RETURN p;
END $$;

CREATE OR REPLACE FUNCTION {prefix}_partition_open_as(release bigint, source text, computed jsonb) RETURNS bigint
LANGUAGE plpgsql SET search_path = {path} AS $$
DECLARE
    p text := {prefix}_partition_name(release);
    columns text;
    alterations text;
    written bigint;
BEGIN
    -- The parent's columns in its order: the source's column of that name as it is (ATTACH
    -- refuses a type that differs; a cast would truncate silently), or the SQL expression
    -- ``computed`` gives for it, cast to the column's type.
    SELECT string_agg(CASE WHEN computed ? a.attname
                           THEN format('(%s)::%s AS %I', computed ->> a.attname, format_type(a.atttypid, a.atttypmod), a.attname)
                           ELSE 's.' || quote_ident(a.attname) END, ', ' ORDER BY a.attnum) INTO columns
      FROM pg_attribute a WHERE a.attrelid = '{parent}'::regclass AND a.attnum > 0 AND NOT a.attisdropped;
    EXECUTE format('CREATE TABLE %I AS SELECT %s FROM (%s) AS s', p, columns, source);
    GET DIAGNOSTICS written = ROW_COUNT;
    -- What ATTACH asks of a partition (the parent's NOT NULLs and CHECKs, same names) and the
    -- release's CHECK that spares it its scan: one ALTER, one scan.
    SELECT string_agg(x, ', ') INTO alterations FROM (
        SELECT format('ALTER COLUMN %I SET NOT NULL', a.attname) AS x FROM pg_attribute a
         WHERE a.attrelid = '{parent}'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull
        UNION ALL
        SELECT format('ADD CONSTRAINT %I %s', c.conname, pg_get_constraintdef(c.oid)) FROM pg_constraint c
         WHERE c.conrelid = '{parent}'::regclass AND c.contype = 'c'
        UNION ALL
        SELECT format('ADD CONSTRAINT %I CHECK (release_id = %s)', p || '_release', release)) AS alteration;
    EXECUTE format('ALTER TABLE %I %s', p, alterations);
    RETURN written;
END $$;
REVOKE ALL ON FUNCTION {prefix}_partition_claim(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION {prefix}_partition_attach(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION {prefix}_partition_open(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION {prefix}_partition_open_as(bigint, text, jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION {prefix}_partition_ensure(release bigint) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
DECLARE
    p text := {prefix}_partition_name(release);
BEGIN
    IF NOT {prefix}_partition_attached(release) AND {prefix}_partition_claim(release) THEN
        PERFORM {prefix}_partition_open(release);
        PERFORM {prefix}_partition_attach(release);
        {on_ensure}
    END IF;
    RETURN p;
END $$;
"""
)


def release_partition_functions(
    *, parent: str, prefix: str, owner: str, condition: str, refusal: str, path: str, on_ensure: str = ""
) -> str:
    """``RELEASE_PARTITION_TEMPLATE`` for ``parent`` (functions named ``prefix``_partition_…);
    ``on_ensure``: PL/pgSQL statements ``_ensure`` runs after it attached a partition it made."""
    sql = RELEASE_PARTITION_TEMPLATE
    for placeholder, value in (
        ("{parent}", parent),
        ("{prefix}", prefix),
        ("{owner}", owner),
        ("{condition}", condition),
        ("{on_ensure}", on_ensure),
    ):
        sql = sql.replace(placeholder, value)
    return sql.replace("{refusal}", refusal).replace("{path}", path)


def schema_path(cursor: Any) -> str:
    cursor.execute("SELECT quote_ident(current_schema())")
    return f"{cursor.fetchone()[0]}, pg_temp"


def _indexes(cursor: Any, table: str) -> list[dict[str, Any]]:
    cursor.execute(
        """
        SELECT i.relname, pg_get_indexdef(x.indexrelid), x.indisprimary, x.indisunique, con.conname IS NOT NULL,
               ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum ORDER BY k.n),
               x.indexprs IS NOT NULL OR x.indpred IS NOT NULL
          FROM pg_index x
          JOIN pg_class i ON i.oid = x.indexrelid
          LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.contype IN ('p', 'u')
         WHERE x.indrelid = %s::regclass
         ORDER BY i.relname
        """,
        [table],
    )
    return [
        {"name": r[0], "definition": r[1], "primary": r[2], "unique": r[3], "constraint": r[4], "columns": list(r[5]), "partial": r[6]}
        for r in cursor.fetchall()
    ]


def table_grants(cursor: Any, table: str) -> list[tuple[int, str]]:
    """The privileges others hold on ``table`` (grantee oid, privilege), for ``grant_again``."""
    cursor.execute(
        "SELECT DISTINCT a.grantee, a.privilege_type FROM pg_class c, aclexplode(c.relacl) a "
        "WHERE c.oid = %s::regclass AND a.grantee <> c.relowner ORDER BY 1, 2",
        [table],
    )
    return [(int(grantee), str(privilege)) for grantee, privilege in cursor.fetchall()]


def grant_again(cursor: Any, quoted_table: str, grants: list[tuple[int, str]]) -> None:
    """Give the table that replaces another the privileges ``table_grants`` read off the old one."""
    for grantee, privilege in grants:
        role = "PUBLIC" if grantee == 0 else None
        if role is None:
            cursor.execute("SELECT quote_ident(pg_get_userbyid(%s))", [grantee])
            role = cursor.fetchone()[0]
        cursor.execute(f"GRANT {privilege} ON {quoted_table} TO {role}")


def convert_to_partitioned(
    *, schema_editor: Any, table: str, key: str, method: str, partitions: list[tuple[str, str]], identity: str = "id"
) -> None:
    """Rebuild ``table`` as ``PARTITION BY method (key)`` with ``partitions`` (name, bound
    clause such as ``FOR VALUES IN ('2026-03')``) made first; every row must fall in one of
    them. ``identity``: the column whose sequence continues (simple-history's tables number
    their rows in ``history_id``). PostgreSQL only; run inside the migration's transaction (all
    or nothing)."""
    q = schema_editor.quote_name
    new, old = f"{table}_partitioned", f"{table}_unpartitioned"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND confrelid = %s::regclass AND conrelid <> %s::regclass",
            [table, table],
        )
        if cursor.fetchone()[0]:
            raise RuntimeError(f"{table} is referenced by foreign keys: a partitioned table needs the partition key in them")
        indexes = _indexes(cursor, table)
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [table],
        )
        foreign_keys = cursor.fetchall()
        cursor.execute(
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal ORDER BY tgname", [table]
        )
        triggers = [row[0] for row in cursor.fetchall()]
        grants = table_grants(cursor, table)
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, identity])
        old_sequence = cursor.fetchone()[0]

        cursor.execute(f"ALTER TABLE {q(table)} RENAME TO {q(old)}")
        for index in indexes:  # free the names for the new table's indexes
            cursor.execute(f"ALTER INDEX {q(index['name'])} RENAME TO {q(index['name'][:50] + '_unpartitioned')}")
        cursor.execute(
            f"CREATE TABLE {q(new)} (LIKE {q(old)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY "
            f"INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY {method} ({q(key)})"
        )
        for name, bound in partitions:
            cursor.execute(f"CREATE TABLE {q(name)} PARTITION OF {q(new)} {bound}")
        for index in indexes:
            columns = index["columns"] + ([key] if key not in index["columns"] else [])
            column_list = ", ".join(q(c) for c in columns)
            if index["primary"]:
                cursor.execute(f"ALTER TABLE {q(new)} ADD CONSTRAINT {q(index['name'])} PRIMARY KEY ({column_list})")
            elif index["unique"] and index["partial"]:
                raise RuntimeError(f"{index['name']}: a partial or expression unique index cannot be carried over generically")
            elif index["unique"] and index["constraint"]:
                cursor.execute(f"ALTER TABLE {q(new)} ADD CONSTRAINT {q(index['name'])} UNIQUE ({column_list})")
            elif index["unique"]:
                cursor.execute(f"CREATE UNIQUE INDEX {q(index['name'])} ON {q(new)} ({column_list})")
            else:
                definition = re.sub(r" ON (ONLY )?\S+ USING ", f" ON {q(new)} USING ", index["definition"], count=1)
                cursor.execute(definition)
        for name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {q(new)} ADD CONSTRAINT {q(name)} {definition}")
        cursor.execute(f"INSERT INTO {q(new)} SELECT * FROM {q(old)}")
        if old_sequence:
            cursor.execute(f"SELECT last_value, is_called FROM {old_sequence}")
            last_value, is_called = cursor.fetchone()
            cursor.execute("SELECT setval(pg_get_serial_sequence(%s, %s), %s, %s)", [new, identity, last_value, is_called])
        grant_again(cursor, q(new), grants)
        cursor.execute(f"DROP TABLE {q(old)}")
        cursor.execute(f"ALTER TABLE {q(new)} RENAME TO {q(table)}")
        for definition in triggers:  # after the rows: moved rows must not fire them again
            cursor.execute(re.sub(r" ON \S+ ", f" ON {q(table)} ", definition, count=1))
        if old_sequence:
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, identity])
            sequence = cursor.fetchone()[0]
            cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {q(old_sequence.split('.')[-1].strip(chr(34)))}")
        for name, _ in partitions:
            cursor.execute(partition_revoke_sql(name))


def partition_revoke_sql(name: str) -> str:
    """Take every non-owner privilege off partition ``name`` (reached through its parent only)."""
    literal = "'" + name.replace("'", "''") + "'"
    return "DO $$ DECLARE grantee oid; BEGIN" + _REVOKE_FROM_OTHERS.replace("{table}", literal) + "END $$;"


def partitions_of(table: str, *, connection: Any = default_connection) -> list[tuple[str, str]]:
    """(name, bound) of ``table``'s attached partitions, by name."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass ORDER BY c.relname",
            [table],
        )
        return [(r[0], r[1]) for r in cursor.fetchall()]


def partition_detach(*, table: str, partition: str, connection: Any = default_connection) -> None:
    """``ALTER TABLE table DETACH PARTITION partition``: the rows leave the table and stay in a
    table of their own (archive or drop it), without foreign keys. The owner's statement: run as
    the migration role."""
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {q(table)} DETACH PARTITION {q(partition)}")
        # The archive stands alone: foreign keys into live tables would block their TRUNCATE and
        # tie the archive's fate to rows it only records.
        cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'", [partition])
        for (name,) in cursor.fetchall():
            cursor.execute(f"ALTER TABLE {q(partition)} DROP CONSTRAINT {q(name)}")
