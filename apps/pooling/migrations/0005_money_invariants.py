"""Money invariants that hold against any SQL the application role can send (issue 15).

- A transfer is reversed at most once: a partial unique index on ``reverses`` over the live
  states (proposed, approved, posted); a rejected or voided reversal does not count.
- Balances move only with entries: inserting ledger entries moves the accounts' ``balance_fen``
  (a statement trigger, SECURITY DEFINER so it acts as the owner), and every other change of
  ``balance_fen`` is refused: the account guard lets a balance change only when it runs inside
  a trigger *and* as the owner of the table, which the application role never is (it cannot
  make a trigger of its own act as the owner). Accounts open at 0; kind and scope never change
  (an account turned ``external`` would escape the overdraft check).
- Posted means balanced: a transfer that is posted (by INSERT or UPDATE) must have its two
  balancing entries at commit (a deferred constraint trigger, the same check as the entries').
- Every function that reads a table pins ``search_path`` to the schema with ``pg_temp`` last:
  a session can create temporary tables named like ours, which would otherwise be read first.
"""

from django.conf import settings
from django.db import migrations, models

SQL = r"""
CREATE OR REPLACE FUNCTION pooling_assert_transfer_balanced(tid bigint) RETURNS void
LANGUAGE plpgsql SET search_path = {path} AS $$
DECLARE
    t pooling_transfer%ROWTYPE;
    n integer;
    total numeric;
    debit numeric;
    credit numeric;
BEGIN
    SELECT * INTO t FROM pooling_transfer WHERE id = tid;
    SELECT count(*), COALESCE(sum(amount_fen), 0),
           COALESCE(sum(amount_fen) FILTER (WHERE account_id = t.from_account_id), 0),
           COALESCE(sum(amount_fen) FILTER (WHERE account_id = t.to_account_id), 0)
      INTO n, total, debit, credit
      FROM pooling_ledgerentry WHERE transfer_id = tid;
    IF t.state IS DISTINCT FROM 'posted' OR n <> 2 OR total <> 0 OR debit <> -t.amount_fen OR credit <> t.amount_fen THEN
        RAISE EXCEPTION 'entries of transfer % do not balance (state %, % entries, sum %, debit %, credit %, amount %)',
            tid, t.state, n, total, debit, credit, t.amount_fen
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION pooling_entries_balance() RETURNS trigger
LANGUAGE plpgsql SET search_path = {path} AS $$
BEGIN
    PERFORM pooling_assert_transfer_balanced(NEW.transfer_id);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION pooling_posted_transfer_balanced() RETURNS trigger
LANGUAGE plpgsql SET search_path = {path} AS $$
BEGIN
    PERFORM pooling_assert_transfer_balanced(NEW.id);
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER pooling_transfer_posted_balanced
    AFTER INSERT OR UPDATE ON pooling_transfer
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.state = 'posted')
    EXECUTE FUNCTION pooling_posted_transfer_balanced();

CREATE OR REPLACE FUNCTION pooling_entries_move_balances() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
BEGIN
    UPDATE pooling_fundaccount a SET balance_fen = a.balance_fen + s.total
      FROM (SELECT account_id, sum(amount_fen) AS total FROM new_entries GROUP BY account_id) s
     WHERE a.id = s.account_id;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION pooling_entries_move_balances() FROM PUBLIC;

CREATE TRIGGER pooling_ledgerentry_moves_balances
    AFTER INSERT ON pooling_ledgerentry
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION pooling_entries_move_balances();

CREATE OR REPLACE FUNCTION pooling_fundaccount_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = {path} AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.balance_fen <> 0 THEN
            RAISE EXCEPTION 'an account opens with a balance of 0; its entries move it (% refused)', NEW.balance_fen
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END IF;
    -- Inside pooling_entries_move_balances current_user is the owner of the table; a trigger
    -- the application role writes on a temporary table of its own runs as that role.
    IF NEW.balance_fen IS DISTINCT FROM OLD.balance_fen AND NOT (
        pg_trigger_depth() > 1
        AND current_user = (SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = TG_RELID)
    ) THEN
        RAISE EXCEPTION 'the balance of account % moves only with a ledger entry', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (NEW.kind, NEW.province_id, NEW.region_id) IS DISTINCT FROM (OLD.kind, OLD.province_id, OLD.region_id) THEN
        RAISE EXCEPTION 'the kind and scope of account % never change', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER pooling_fundaccount_guard
    BEFORE INSERT OR UPDATE ON pooling_fundaccount
    FOR EACH ROW EXECUTE FUNCTION pooling_fundaccount_guard();
"""

# Migration 0002's body of pooling_entries_balance, restored on the way back.
BACKWARDS_SQL = r"""
DROP TRIGGER IF EXISTS pooling_fundaccount_guard ON pooling_fundaccount;
DROP FUNCTION IF EXISTS pooling_fundaccount_guard();
DROP TRIGGER IF EXISTS pooling_ledgerentry_moves_balances ON pooling_ledgerentry;
DROP FUNCTION IF EXISTS pooling_entries_move_balances();
DROP TRIGGER IF EXISTS pooling_transfer_posted_balanced ON pooling_transfer;
DROP FUNCTION IF EXISTS pooling_posted_transfer_balanced();
CREATE OR REPLACE FUNCTION pooling_entries_balance() RETURNS trigger AS $$
DECLARE
    t pooling_transfer%ROWTYPE;
    n integer;
    total numeric;
    debit numeric;
    credit numeric;
BEGIN
    SELECT * INTO t FROM pooling_transfer WHERE id = NEW.transfer_id;
    SELECT count(*), COALESCE(sum(amount_fen), 0),
           COALESCE(sum(amount_fen) FILTER (WHERE account_id = t.from_account_id), 0),
           COALESCE(sum(amount_fen) FILTER (WHERE account_id = t.to_account_id), 0)
      INTO n, total, debit, credit
      FROM pooling_ledgerentry WHERE transfer_id = NEW.transfer_id;
    IF t.state IS DISTINCT FROM 'posted' OR n <> 2 OR total <> 0 OR debit <> -t.amount_fen OR credit <> t.amount_fen THEN
        RAISE EXCEPTION 'entries of transfer % do not balance (state %, % entries, sum %, debit %, credit %, amount %)',
            NEW.transfer_id, t.state, n, total, debit, credit, t.amount_fen
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
ALTER FUNCTION pooling_entries_balance() RESET search_path;
DROP FUNCTION IF EXISTS pooling_assert_transfer_balanced(bigint);
"""


def pinned_search_path(schema_editor) -> str:
    """The schema the tables live in, then pg_temp (searched last instead of first)."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT quote_ident(current_schema())")
        return f"{cursor.fetchone()[0]}, pg_temp"


def forwards(apps, schema_editor):
    schema_editor.execute(SQL.replace("{path}", pinned_search_path(schema_editor)), None)


def backwards(apps, schema_editor):
    schema_editor.execute(BACKWARDS_SQL, None)


class Migration(migrations.Migration):
    dependencies = [
        ("pooling", "0004_history_reasons_as_text"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="transfer",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state__in", ["proposed", "approved", "posted"])),
                fields=("reverses",),
                name="transfer_reversed_at_most_once",
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
