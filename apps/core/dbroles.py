"""The PostgreSQL role the web and worker processes connect as: it owns nothing.

Triggers and constraints guard money and published releases whatever SQL runs, but only
against a role that cannot switch them off: the owner of a table may ``TRUNCATE`` it (row
triggers do not fire), ``ALTER TABLE … DISABLE TRIGGER`` or drop it. So migrations run as the
owner (``MIGRATE_DATABASE_URL``) and the application as a role holding only SELECT, INSERT,
UPDATE and DELETE on tables and USAGE on sequences (README "Database roles"). Privileges on
tables that later migrations create come from ``ALTER DEFAULT PRIVILEGES`` of the owner, and
``manage.py migrate`` re-grants after migrating whenever it runs as another role than the
application's.
"""

from __future__ import annotations

import re

from django.db import DatabaseError, connections, transaction
from django.db.backends.utils import CursorWrapper

from .errors import Conflict, ValidationFailed

# A plain identifier: role names are interpolated into utility statements, which take no parameters.
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_PRIVILEGES = "USAGE, SELECT"


def _check_name(role: str) -> str:
    if not ROLE_NAME.match(role):
        raise ValidationFailed(
            f"role name {role!r} is not a plain lower-case identifier",
            errors=[{"field": "role", "code": "invalid", "message": "a-z, 0-9 and _, at most 63 characters, not starting with a digit"}],
        )
    return role


def app_role_grant(*, role: str, create: bool = False, password: str | None = None, using: str = "default") -> None:
    """Give ``role`` what the application needs on this database's current schema, and nothing more.

    Runs as the owner of the tables. With ``create``, the role is made first when missing (LOGIN,
    no superuser, no CREATEDB/CREATEROLE/REPLICATION/BYPASSRLS; ``password`` if given). Idempotent.

    Raises ValidationFailed for a name that is not a plain identifier; Conflict when the role is
    the connected user itself, a superuser (triggers would not bind it) or owns a table of the
    schema (it could disable their triggers).
    """
    _check_name(role)
    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if create:
            _create_role(cursor, role, password)
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
        row = cursor.fetchone()
        if row is None:
            raise ValidationFailed(f"role {role!r} does not exist (create it, or pass create=True)")
        if row[0]:
            raise Conflict(f"role {role!r} is a superuser: no trigger or privilege binds it", code="app_role_unsafe")
        cursor.execute("SELECT current_user, current_schema(), current_database()")
        me, schema, database = cursor.fetchone()
        if me == role:
            raise Conflict(f"connected as {role!r}: grant from the owner's connection", code="app_role_unsafe")
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND pg_get_userbyid(c.relowner) = %s",
            [schema, role],
        )
        if cursor.fetchone()[0]:
            raise Conflict(f"role {role!r} owns tables in schema {schema}: it could disable their triggers", code="app_role_unsafe")
        q = connection.ops.quote_name
        r, s = q(role), q(schema)
        cursor.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {q(database)} TO {r}")
        cursor.execute(f"GRANT USAGE ON SCHEMA {s} TO {r}")
        cursor.execute(f"GRANT {TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA {s} TO {r}")
        cursor.execute(f"GRANT {SEQUENCE_PRIVILEGES} ON ALL SEQUENCES IN SCHEMA {s} TO {r}")
        # Partitions (ledger entries, settlement records) are reached through their parent only:
        # the parent's statement triggers (balances) do not fire for a statement on a partition.
        cursor.execute(
            "SELECT quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relispartition AND c.relkind IN ('r', 'p') ORDER BY 1",
            [schema],
        )
        for (partition,) in cursor.fetchall():
            cursor.execute(f"REVOKE ALL ON {s}.{partition} FROM {r}")
        # Tables and sequences the owner creates later (the next migrations) get the same grants.
        cursor.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT {TABLE_PRIVILEGES} ON TABLES TO {r}")
        cursor.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT {SEQUENCE_PRIVILEGES} ON SEQUENCES TO {r}")
        # Our SECURITY DEFINER functions act as the owner, and PostgreSQL lets PUBLIC execute a
        # new function: any role that may connect (a report reader) could, say, make a ledger
        # partition for every month to come, and every posting locks each attached month's
        # partition. Only this role may call them; trigger functions are called by their triggers.
        cursor.execute(DEFINER_FUNCTIONS_SQL)
        for signature, is_trigger in cursor.fetchall():
            # The signature comes from regprocedure's own output, a quoted identifier and types.
            cursor.execute(f"REVOKE EXECUTE ON FUNCTION {signature} FROM PUBLIC")
            if not is_trigger:
                cursor.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {r}")


DEFINER_FUNCTIONS_SQL = """
SELECT p.oid::regprocedure::text, p.prorettype = 'trigger'::regtype
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = current_schema() AND p.prosecdef
 ORDER BY 1
"""


def _create_role(cursor: CursorWrapper, role: str, password: str | None) -> None:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    if cursor.fetchone() is not None:
        return
    options = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
    # Roles are shared by every database of the server: another database's suite may be creating
    # the same name right now, so a duplicate is not an error (savepoint keeps the transaction usable).
    try:
        with transaction.atomic(using=cursor.db.alias):
            if password:
                cursor.execute(f"CREATE ROLE {cursor.db.ops.quote_name(role)} {options} PASSWORD %s", [password])
            else:
                cursor.execute(f"CREATE ROLE {cursor.db.ops.quote_name(role)} {options}")
    except DatabaseError as exc:
        if getattr(getattr(exc, "__cause__", None), "sqlstate", None) not in ("42710", "23505"):  # duplicate_object, unique_violation
            raise


# Functions of ours that run with another search path are fooled by a session's temporary table
# named like one of our tables (pg_temp comes first by default): a trigger that looks up
# participants or entries would read the attacker's empty copy. Every plpgsql function of the
# schema therefore runs with the schema first and pg_temp last; post_migrate re-applies this, so
# a function added by a later migration is covered without anyone remembering to.
UNPINNED_FUNCTIONS_SQL = """
SELECT p.oid::regprocedure::text
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_language l ON l.oid = p.prolang
 WHERE n.nspname = current_schema() AND l.lanname = 'plpgsql'
   AND NOT EXISTS (SELECT 1 FROM unnest(coalesce(p.proconfig, '{}')) AS setting WHERE setting LIKE 'search_path=%%')
 ORDER BY 1
"""


def unpinned_functions(*, using: str = "default") -> list[str]:
    with connections[using].cursor() as cursor:
        cursor.execute(UNPINNED_FUNCTIONS_SQL)
        return [row[0] for row in cursor.fetchall()]


def functions_pin_search_path(*, using: str = "default") -> int:
    """Pin ``search_path`` (the schema, then pg_temp) on every plpgsql function of the schema
    that has none; returns how many were pinned. Runs as the functions' owner (after migrate)."""
    connection = connections[using]
    pinned = 0
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute("SELECT quote_ident(current_schema())")
        schema = cursor.fetchone()[0]
        for signature in unpinned_functions(using=using):
            # The signature comes from regprocedure's own output, a quoted identifier and types.
            cursor.execute(f"ALTER FUNCTION {signature} SET search_path = {schema}, pg_temp")
            pinned += 1
    return pinned
