"""Foreign keys checked once per statement, for tables written 100,000 rows at a time.

PostgreSQL checks a ``FOREIGN KEY`` once per inserted row (a trigger that looks the parent up and
locks it ``FOR KEY SHARE``). For the notice outbox, written for every hospital in the publish
transaction, those checks cost as much as the writes themselves (issue 22: five keys on 100,000
rows each, ~6 s of a 12 s outbox under load). A :class:`StatementForeignKey` keeps the same rule
— a child row's key names an existing parent row, from insert until the transaction that deleted
the parent ends — with triggers that look at a whole statement's rows at once:

- child ``AFTER INSERT … FOR EACH STATEMENT`` (transition table): one anti-join of the new rows
  against the parent; any row without a parent fails the statement with ``foreign_key_violation``
  (Django's ``IntegrityError``), at the statement rather than at commit;
- child ``AFTER UPDATE OF <column>`` per row, only when the key changes (it never does here);
- parent ``BEFORE DELETE … FOR EACH STATEMENT`` takes ``SHARE`` on the child table, so a delete
  waits for transactions that are inserting children and blocks new ones until it ends (this
  replaces the row locks a per-row check takes), then ``AFTER DELETE`` fails the statement when a
  child row still names a deleted parent; a parent's ``id`` never changes while it is named.

Django deletes children before parents (``on_delete`` runs in Python), so CASCADE and PROTECT
work as before. Two things a plain foreign key does that these do not: ``TRUNCATE parent
CASCADE`` does not reach the child (truncate both), and the checks see rows committed by others
only in READ COMMITTED transactions (the project's isolation level). The model field declares
``db_constraint=False`` and names the triggers in a comment; the migration creates them with
:meth:`StatementForeignKey.create_sql`.
"""

from __future__ import annotations

from dataclasses import dataclass

FUNCTIONS_SQL = r"""
CREATE OR REPLACE FUNCTION core_fk_rows_have_parents() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key_column text := TG_ARGV[0];
    parent regclass := TG_ARGV[1]::regclass;
    orphan text;
BEGIN
    -- An aggregate rather than LIMIT 1, so the planner may hash the parent keys (one pass)
    -- instead of probing the parent's index once per row.
    EXECUTE format(
        'SELECT min(n.%1$I)::text FROM new_rows n WHERE n.%1$I IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %2$s p WHERE p.id = n.%1$I)',
        key_column, parent
    ) INTO orphan;
    IF orphan IS NOT NULL THEN
        RAISE EXCEPTION 'insert or update on table "%" violates foreign key: %=% is not present in table "%"',
            TG_TABLE_NAME, key_column, orphan, parent USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION core_fk_row_has_parent() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key_column text := TG_ARGV[0];
    parent regclass := TG_ARGV[1]::regclass;
    key text := to_jsonb(NEW) ->> key_column;
    found integer;
BEGIN
    IF key IS NOT NULL THEN
        EXECUTE format('SELECT 1 FROM %s p WHERE p.id = $1::bigint FOR KEY SHARE OF p', parent) INTO found USING key;
        IF found IS NULL THEN
            RAISE EXCEPTION 'insert or update on table "%" violates foreign key: %=% is not present in table "%"',
                TG_TABLE_NAME, key_column, key, parent USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION core_fk_lock_children() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('LOCK TABLE %s IN SHARE MODE', TG_ARGV[0]::regclass);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION core_fk_no_children_left() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    child regclass := TG_ARGV[0]::regclass;
    key_column text := TG_ARGV[1];
    named text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        EXECUTE format('SELECT c.%1$I::text FROM %2$s c WHERE c.%1$I IN (SELECT o.id FROM old_rows o) LIMIT 1', key_column, child)
            INTO named;
    ELSE  -- a row-level UPDATE of the parent's id
        EXECUTE format('SELECT c.%1$I::text FROM %2$s c WHERE c.%1$I = $1 LIMIT 1', key_column, child) INTO named USING OLD.id;
    END IF;
    IF named IS NOT NULL THEN
        RAISE EXCEPTION 'update or delete on table "%" violates foreign key of table "%": id=% is still named by %',
            TG_TABLE_NAME, child, named, key_column USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
"""

DROP_FUNCTIONS_SQL = """
DROP FUNCTION IF EXISTS core_fk_rows_have_parents();
DROP FUNCTION IF EXISTS core_fk_row_has_parent();
DROP FUNCTION IF EXISTS core_fk_lock_children();
DROP FUNCTION IF EXISTS core_fk_no_children_left();
"""


@dataclass(frozen=True)
class StatementForeignKey:
    """``child.column`` names ``parent.id``, checked per statement (see the module's docstring)."""

    child: str
    column: str
    parent: str

    @property
    def _name(self) -> str:
        return f"fk_{self.child}_{self.column}"[:56]

    def create_sql(self) -> str:
        c, col, p, name = self.child, self.column, self.parent, self._name
        return f"""
CREATE TRIGGER {name}_ins AFTER INSERT ON {c} REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION core_fk_rows_have_parents('{col}', '{p}');
CREATE TRIGGER {name}_upd AFTER UPDATE OF {col} ON {c}
    FOR EACH ROW WHEN (OLD.{col} IS DISTINCT FROM NEW.{col}) EXECUTE FUNCTION core_fk_row_has_parent('{col}', '{p}');
CREATE TRIGGER {name}_lock BEFORE DELETE ON {p}
    FOR EACH STATEMENT EXECUTE FUNCTION core_fk_lock_children('{c}');
CREATE TRIGGER {name}_del AFTER DELETE ON {p} REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION core_fk_no_children_left('{c}', '{col}');
CREATE TRIGGER {name}_key AFTER UPDATE OF id ON {p}
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION core_fk_no_children_left('{c}', '{col}');
"""

    def drop_sql(self) -> str:
        c, p, name = self.child, self.parent, self._name
        return f"""
DROP TRIGGER IF EXISTS {name}_ins ON {c};
DROP TRIGGER IF EXISTS {name}_upd ON {c};
DROP TRIGGER IF EXISTS {name}_lock ON {p};
DROP TRIGGER IF EXISTS {name}_del ON {p};
DROP TRIGGER IF EXISTS {name}_key ON {p};
"""
