"""Posting a transfer in fewer steps with the same invariants (issue 22: ledger posting at 1/4 of
the bare INSERT rate).

Measured on one connection (2,000 calls): the posting function spent most of its time in
work that said the same thing twice.

- Two UPDATEs of the transfer (proposed → approved, then → posted). The first changes an
  indexed column (``approved_by_id``) and the second the state that a partial index's predicate
  reads, so neither is a HOT update: each wrote a new entry into all nine indexes of the table.
  Now approval and posting are one UPDATE, proposed → posted, and the transfer guard allows that
  step (``transfer_approved_has_approver`` still demands the approver, and
  ``transfer_approver_is_not_proposer`` that it is someone else). The history keeps both steps:
  the ``approved`` row and the ``posted`` row, written by one INSERT from the row the UPDATE
  returned.
- Three deferred balance checks at commit: one for each of the two entries (a row-level
  constraint trigger) and one for the transfer turned posted. The entries' check is now one
  statement-level trigger (``pooling_entries_apply``): at the end of each INSERT into the
  ledger, every transfer it touched must be posted, with exactly two entries that sum to zero,
  the debit on its source and the credit on its target. The same trigger also refuses entries
  on a closed account (the check that had a trigger of its own in 0006). The posting function
  sets the transfer posted before it writes the entries. The transfer's own deferred check
  (posted means balanced, at commit) is unchanged: it still refuses a transfer marked posted
  whose entries never came.

The same trigger moves the balances first and checks for closed accounts on the rows that
UPDATE locked, so an account closed by a transaction that commits meanwhile is seen closed. It
also refuses entries dated in a month detached from the ledger (a ``pooling_ledgerarchive`` row
covers it): that month's entries are gone from the table, so a second pair for one of its
transfers would not be counted, and the archive's sums would hide the money moved twice. And a
closed account stays closed (``pooling_fundaccount_guard``): reopening one would let entries
reach it again.

What the application role can no longer do: write a transfer's two entries in two statements,
or its entries before marking it posted, or date them apart from the posting. Nothing in the
application did; each now fails at the INSERT instead of at commit. The migration refuses to run
on a database holding such entries (the checks from here on would not see them).

Reversible: the way back restores 0002's transfer guard, 0005's account guard, the row-level
deferred trigger, the closed-account and balance-moving triggers and 0009's function.
"""

from django.db import migrations

from apps.core.partitioning import schema_path

GUARD = r"""
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
{note}    IF NEW.state <> OLD.state AND NOT (
        (OLD.state = 'proposed' AND NEW.state IN ({proposed_to}))
        OR (OLD.state = 'approved' AND NEW.state IN ('posted', 'voided'))
    ) THEN
        RAISE EXCEPTION 'transfer % cannot go from % to %', OLD.id, OLD.state, NEW.state
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
"""

ENTRIES_APPLIED = r"""
CREATE OR REPLACE FUNCTION pooling_entries_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
DECLARE
    closed bigint;
    bad record;
BEGIN
    -- 0005's pooling_entries_move_balances: as the owner, the only way balance_fen changes
    -- (pooling_fundaccount_guard). The accounts' rows are locked by it, so the closed-account
    -- check reads them as they are once a closing transaction has committed (checked before the
    -- UPDATE, an account closed meanwhile would be missed).
    WITH moved AS (
        UPDATE pooling_fundaccount a SET balance_fen = a.balance_fen + s.total
          FROM (SELECT account_id, sum(amount_fen) AS total FROM new_entries GROUP BY account_id) s
         WHERE a.id = s.account_id
        RETURNING a.id, a.closed_at)
    SELECT moved.id INTO closed FROM moved WHERE moved.closed_at IS NOT NULL LIMIT 1;
    IF closed IS NOT NULL THEN
        RAISE EXCEPTION 'account % is closed and takes no entries', closed USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    -- Every transfer this statement wrote entries for, with all of its entries (this
    -- statement's and earlier ones'), as pooling_assert_transfer_balanced checks one. Each entry
    -- is also posted with its transfer (the same posted_at), so all entries of a transfer are in
    -- one month's partition: the only one this check and the check at commit read.
    SELECT touched.transfer_id, t.state, t.posted_at, touched.posted_at AS entry_posted_at, t.amount_fen,
           s.n, s.total, s.debit, s.credit INTO bad
      FROM (SELECT DISTINCT transfer_id, posted_at FROM new_entries) touched
      LEFT JOIN pooling_transfer t ON t.id = touched.transfer_id
     CROSS JOIN LATERAL (
           SELECT count(*) AS n, COALESCE(sum(e.amount_fen), 0) AS total,
                  COALESCE(sum(e.amount_fen) FILTER (WHERE e.account_id = t.from_account_id), 0) AS debit,
                  COALESCE(sum(e.amount_fen) FILTER (WHERE e.account_id = t.to_account_id), 0) AS credit
             FROM pooling_ledgerentry e WHERE e.transfer_id = touched.transfer_id AND e.posted_at = t.posted_at) s
     WHERE t.state IS DISTINCT FROM 'posted' OR touched.posted_at IS DISTINCT FROM t.posted_at
        OR s.n <> 2 OR s.total <> 0 OR s.debit <> -t.amount_fen OR s.credit <> t.amount_fen
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entries of transfer % do not balance (state %, posted at %, an entry posted at %, % entries, sum %, debit %, credit %, amount %)',
            bad.transfer_id, bad.state, bad.posted_at, bad.entry_posted_at, bad.n, bad.total, bad.debit, bad.credit, bad.amount_fen
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    -- A month detached and archived (apps.pooling.services.ledger_month_detach) takes no entries:
    -- its transfers' entries are gone from the table, so the count above would not see them, and
    -- the archive's sums would hide the money moved twice.
    SELECT touched.transfer_id, touched.posted_at INTO bad
      FROM (SELECT DISTINCT transfer_id, posted_at FROM new_entries) touched
     WHERE EXISTS (SELECT 1 FROM pooling_ledgerarchive archive
                    WHERE archive.period_end > touched.posted_at AND archive.period_start <= touched.posted_at)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entries of transfer % are dated % in a month detached from the ledger', bad.transfer_id, bad.posted_at
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION pooling_entries_apply() FROM PUBLIC;

DROP TRIGGER pooling_ledgerentry_balanced ON pooling_ledgerentry;
DROP TRIGGER pooling_ledgerentry_not_on_closed_accounts ON pooling_ledgerentry;
DROP TRIGGER pooling_ledgerentry_moves_balances ON pooling_ledgerentry;
DROP FUNCTION pooling_entries_balance();
DROP FUNCTION pooling_entries_not_on_closed_accounts();
DROP FUNCTION pooling_entries_move_balances();
CREATE TRIGGER pooling_ledgerentry_applied
    AFTER INSERT ON pooling_ledgerentry
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION pooling_entries_apply();

-- The transfer's check at commit, with 0005's pooling_assert_transfer_balanced called
-- directly by its trigger instead of through a second function.
CREATE OR REPLACE FUNCTION pooling_posted_transfer_balanced() RETURNS trigger
LANGUAGE plpgsql SET search_path = {path} AS $$
DECLARE
    n integer;
    total numeric;
    debit numeric;
    credit numeric;
BEGIN
    SELECT count(*), COALESCE(sum(amount_fen), 0),
           COALESCE(sum(amount_fen) FILTER (WHERE account_id = NEW.from_account_id), 0),
           COALESCE(sum(amount_fen) FILTER (WHERE account_id = NEW.to_account_id), 0)
      INTO n, total, debit, credit
      FROM pooling_ledgerentry WHERE transfer_id = NEW.id AND posted_at = NEW.posted_at;  -- its entries' month (above)
    IF n <> 2 OR total <> 0 OR debit <> -NEW.amount_fen OR credit <> NEW.amount_fen THEN
        RAISE EXCEPTION 'entries of transfer % do not balance (state %, % entries, sum %, debit %, credit %, amount %)',
            NEW.id, NEW.state, n, total, debit, credit, NEW.amount_fen
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;
"""

# 0005's account guard, and (forwards) a closed account stays closed: reopening one would let
# entries reach it again.
ACCOUNT_GUARD = r"""
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
    -- Inside the ledger's balance-moving trigger function current_user is the owner of the table; a trigger
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
{closed}    RETURN NEW;
END $$;
"""

CLOSED_STAYS_CLOSED = """    IF OLD.closed_at IS NOT NULL AND NEW.closed_at IS DISTINCT FROM OLD.closed_at THEN
        RAISE EXCEPTION 'account % is closed for good', OLD.id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
"""

ENTRIES_APPLIED_BACKWARDS = r"""
DROP TRIGGER pooling_ledgerentry_applied ON pooling_ledgerentry;
DROP FUNCTION pooling_entries_apply();
CREATE OR REPLACE FUNCTION pooling_posted_transfer_balanced() RETURNS trigger
LANGUAGE plpgsql SET search_path = {path} AS $$
BEGIN
    PERFORM pooling_assert_transfer_balanced(NEW.id);
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION pooling_entries_balance() RETURNS trigger
LANGUAGE plpgsql SET search_path = {path} AS $$
BEGIN
    PERFORM pooling_assert_transfer_balanced(NEW.transfer_id);
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER pooling_ledgerentry_balanced
    AFTER INSERT ON pooling_ledgerentry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION pooling_entries_balance();
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
"""

# 0009's function with the two UPDATEs made one and the two history INSERTs made one; the
# transfer is posted before its entries are written (pooling_entries_apply checks at the end of
# the entries' INSERT). The signature and the refusals are 0009's.
APPROVE_AND_POST = r"""
CREATE OR REPLACE FUNCTION pooling_approve_and_post(
    p_transfer bigint,
    p_approver integer,
    p_approver_label text,
    p_is_checker boolean,
    p_is_superuser boolean,
    p_own_province text,
    p_national_fund_province text,
    p_otp_verified boolean,
    p_action text,
    p_at timestamptz,
    p_reason text DEFAULT '',
    p_posted_label text DEFAULT 'posted'
) RETURNS TABLE (outcome text, seen_state text, seen_balance_fen bigint, seen_limit_fen bigint, account_name text, wanted_province text)
LANGUAGE plpgsql SET search_path = {path} AS $$
DECLARE
    t pooling_transfer%ROWTYPE;
    debit pooling_fundaccount%ROWTYPE;
    debit_province text;
    credit_province text;
    credit_name text;
    wanted text;
BEGIN
    -- The refusals in services.transfer_approve's order; the permission facts that depend on the
    -- user alone (role, superuser, own province, OTP-verified request) come from the caller.
    SELECT * INTO t FROM pooling_transfer WHERE id = p_transfer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::text, NULL::bigint, NULL::bigint, NULL::text, NULL::text;
        RETURN;
    END IF;
    IF t.proposed_by_id = p_approver THEN
        RETURN QUERY SELECT 'same_user_cannot_approve'::text, t.state::text, NULL::bigint, NULL::bigint, NULL::text, NULL::text;
        RETURN;
    END IF;
    IF NOT p_is_checker THEN
        RETURN QUERY SELECT 'permission_denied'::text, t.state::text, NULL::bigint, NULL::bigint, NULL::text, NULL::text;
        RETURN;
    END IF;
    -- Accounts never change kind or scope (pooling_fundaccount_guard), so reading them before
    -- their locks is safe for the permission check; the balance is read again under the lock.
    SELECT a.* INTO debit FROM pooling_fundaccount a WHERE a.id = t.from_account_id;
    SELECT p.code INTO debit_province FROM benefits_province p WHERE p.id = debit.province_id;
    IF NOT p_is_superuser THEN
        wanted := COALESCE(debit_province, p_national_fund_province);
        IF p_own_province IS DISTINCT FROM wanted THEN
            RETURN QUERY SELECT 'wrong_province'::text, t.state::text, NULL::bigint, NULL::bigint, debit.name::text, wanted;
            RETURN;
        END IF;
        IF NOT p_otp_verified AND EXISTS (SELECT 1 FROM otp_totp_totpdevice d WHERE d.user_id = p_approver AND d.confirmed) THEN
            RETURN QUERY SELECT 'otp_required'::text, t.state::text, NULL::bigint, NULL::bigint, NULL::text, NULL::text;
            RETURN;
        END IF;
    END IF;
    IF t.state <> 'proposed' THEN
        RETURN QUERY SELECT 'transfer_not_proposed'::text, t.state::text, NULL::bigint, NULL::bigint, NULL::text, NULL::text;
        RETURN;
    END IF;
    -- Both accounts, in primary-key order (as every other path locks them); the overdraft
    -- check under those locks.
    PERFORM 1 FROM pooling_fundaccount a WHERE a.id IN (t.from_account_id, t.to_account_id) ORDER BY a.id FOR UPDATE;
    SELECT a.* INTO debit FROM pooling_fundaccount a WHERE a.id = t.from_account_id;
    IF debit.kind <> 'external' AND debit.balance_fen - t.amount_fen < -debit.overdraft_limit_fen THEN
        RETURN QUERY SELECT 'insufficient_funds'::text, t.state::text, debit.balance_fen, debit.overdraft_limit_fen, debit.name::text, NULL::text;
        RETURN;
    END IF;
    SELECT a.name, p.code INTO credit_name, credit_province
      FROM pooling_fundaccount a LEFT JOIN benefits_province p ON p.id = a.province_id WHERE a.id = t.to_account_id;

    -- Approved and posted in one step (the guard allows proposed -> posted); the history keeps
    -- both steps, as the row was after each.
    UPDATE pooling_transfer SET state = 'posted', approved_by_id = p_approver, approved_at = p_at, posted_at = p_at
     WHERE id = t.id RETURNING * INTO t;
    INSERT INTO pooling_historicaltransfer (
        id, amount_fen, memo, state, idempotency_key, request_fingerprint, reason, created_at, approved_at, posted_at,
        closed_at, approved_by_id, closed_by_id, from_account_id, proposed_by_id, to_account_id, reverses_id,
        history_date, history_change_reason, history_type, history_user_id)
    VALUES
        (t.id, t.amount_fen, t.memo, 'approved', t.idempotency_key, t.request_fingerprint, t.reason, t.created_at,
         t.approved_at, NULL, t.closed_at, t.approved_by_id, t.closed_by_id, t.from_account_id,
         t.proposed_by_id, t.to_account_id, t.reverses_id, p_at, 'approved', '~', p_approver),
        (t.id, t.amount_fen, t.memo, t.state, t.idempotency_key, t.request_fingerprint, t.reason, t.created_at,
         t.approved_at, t.posted_at, t.closed_at, t.approved_by_id, t.closed_by_id, t.from_account_id,
         t.proposed_by_id, t.to_account_id, t.reverses_id, p_at,
         CASE WHEN p_reason <> '' THEN 'posted: ' || p_reason ELSE 'posted' END, '~', p_approver);

    -- Entries are partitioned by month (migration 0007): the month's partition, created on
    -- first use by the owner's SECURITY DEFINER function.
    PERFORM pooling_ledger_partition_ensure(p_at);
    INSERT INTO pooling_ledgerentry (account_id, transfer_id, amount_fen, posted_at)
    VALUES (t.from_account_id, t.id, -t.amount_fen, p_at), (t.to_account_id, t.id, t.amount_fen, p_at);

    -- The one audit event, as apps.core.audit.audit_record writes it for the posted transfer.
    INSERT INTO core_auditevent (occurred_at, actor_id, actor_label, action, object_type, object_id, object_repr,
                                 province_code, reason, detail)
    VALUES (p_at, p_approver, p_approver_label, p_action, 'pooling.transfer', t.id::text,
            -- Transfer.__str__ (accounts by name, the state's label in the caller's language).
            left(format('#%s %s %s → %s (%s)', t.id, pooling_money_text(t.amount_fen), debit.name, credit_name, p_posted_label), 200),
            COALESCE(debit_province, ''), p_reason,
            jsonb_build_object('amount_fen', t.amount_fen, 'from_account', t.from_account_id, 'to_account', t.to_account_id,
                               'from_province', COALESCE(debit_province, ''), 'to_province', COALESCE(credit_province, ''),
                               'reverses', t.reverses_id));

    RETURN QUERY SELECT 'posted'::text, 'posted'::text, debit.balance_fen - t.amount_fen, debit.overdraft_limit_fen, debit.name::text, NULL::text;
END $$;
"""


def _migration_module(name: str):
    import importlib

    return importlib.import_module(f"apps.pooling.migrations.{name}")


# Entries not dated with their transfer's posting, or of a transfer that is not posted: the checks
# from here on read only the posting's month, so such a row would escape them.
ENTRIES_APART_SQL = (
    "SELECT e.transfer_id FROM pooling_ledgerentry e JOIN pooling_transfer t ON t.id = e.transfer_id "
    "WHERE e.posted_at IS DISTINCT FROM t.posted_at OR t.state <> 'posted' LIMIT 1"
)

GUARD_NOTE = """    -- proposed -> posted is approval and posting in one step (the approver is required by
    -- transfer_approved_has_approver either way).
"""


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        path = schema_path(cursor)
        cursor.execute(ENTRIES_APART_SQL)
        apart = cursor.fetchone()
    if apart is not None:
        raise RuntimeError(f"transfer {apart[0]}: entries not dated with its posting, or it is not posted; mend them before migrating")
    schema_editor.execute(GUARD.replace("{note}", GUARD_NOTE).replace("{proposed_to}", "'approved', 'posted', 'rejected', 'voided'"), None)
    schema_editor.execute(ACCOUNT_GUARD.replace("{path}", path).replace("{closed}", CLOSED_STAYS_CLOSED), None)
    schema_editor.execute(ENTRIES_APPLIED.replace("{path}", path), None)
    schema_editor.execute(APPROVE_AND_POST.replace("{path}", path), None)


def backwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        path = schema_path(cursor)
    schema_editor.execute(ENTRIES_APPLIED_BACKWARDS.replace("{path}", path), None)
    schema_editor.execute(_migration_module("0006_provincial_pooling").CLOSED_ACCOUNT_SQL.replace("{path}", path), None)
    schema_editor.execute(ACCOUNT_GUARD.replace("{path}", path).replace("{closed}", ""), None)
    schema_editor.execute(GUARD.replace("{note}", "").replace("{proposed_to}", "'approved', 'rejected', 'voided'"), None)
    schema_editor.execute(_migration_module("0009_post_transfer_in_one_call").SQL.replace("{path}", path), None)


class Migration(migrations.Migration):
    dependencies = [("pooling", "0013_help_texts_without_the_fen_unit")]

    operations = [migrations.RunPython(forwards, backwards)]
