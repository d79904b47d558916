"""PostgreSQL triggers that protect money, whatever path writes the rows (raw SQL included).

- Entries of a transfer: exactly two, on its two accounts, −amount and +amount, and only for a
  posted transfer; checked at commit by a deferred constraint trigger (so the service may write
  both rows and the state in any order within the transaction).
- Ledger entries never change: UPDATE and DELETE are refused.
- A posted, rejected or voided transfer never changes; a transfer's body (accounts, amount,
  proposer, idempotency key) never changes; states only move forward.
(TRUNCATE is left to operators: test runs flush with it.)
"""

from django.db import migrations

SQL = r"""
CREATE OR REPLACE FUNCTION pooling_entry_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger entry % is posted and immutable (% refused)', OLD.id, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;

CREATE TRIGGER pooling_ledgerentry_immutable
    BEFORE UPDATE OR DELETE ON pooling_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION pooling_entry_immutable();

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

CREATE CONSTRAINT TRIGGER pooling_ledgerentry_balanced
    AFTER INSERT ON pooling_ledgerentry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION pooling_entries_balance();

CREATE OR REPLACE FUNCTION pooling_transfer_guard() RETURNS trigger AS $$
BEGIN
    IF OLD.state IN ('posted', 'rejected', 'voided') THEN
        RAISE EXCEPTION 'transfer % is % and final (% refused)', OLD.id, OLD.state, TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF (NEW.from_account_id, NEW.to_account_id, NEW.amount_fen, NEW.proposed_by_id, NEW.idempotency_key, NEW.request_fingerprint)
       IS DISTINCT FROM
       (OLD.from_account_id, OLD.to_account_id, OLD.amount_fen, OLD.proposed_by_id, OLD.idempotency_key, OLD.request_fingerprint) THEN
        RAISE EXCEPTION 'the body of transfer % never changes', OLD.id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.state <> OLD.state AND NOT (
        (OLD.state = 'proposed' AND NEW.state IN ('approved', 'rejected', 'voided'))
        OR (OLD.state = 'approved' AND NEW.state IN ('posted', 'voided'))
    ) THEN
        RAISE EXCEPTION 'transfer % cannot go from % to %', OLD.id, OLD.state, NEW.state
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER pooling_transfer_guard
    BEFORE UPDATE OR DELETE ON pooling_transfer
    FOR EACH ROW EXECUTE FUNCTION pooling_transfer_guard();
"""


BACKWARDS = [
    "DROP TRIGGER IF EXISTS pooling_transfer_guard ON pooling_transfer",
    "DROP TRIGGER IF EXISTS pooling_ledgerentry_balanced ON pooling_ledgerentry",
    "DROP TRIGGER IF EXISTS pooling_ledgerentry_immutable ON pooling_ledgerentry",
    "DROP FUNCTION IF EXISTS pooling_transfer_guard()",
    "DROP FUNCTION IF EXISTS pooling_entries_balance()",
    "DROP FUNCTION IF EXISTS pooling_entry_immutable()",
]


class Migration(migrations.Migration):
    dependencies = [("pooling", "0001_ledger")]
    operations = [migrations.RunSQL([SQL], BACKWARDS)]
