"""Approving and posting a transfer in one database call (issue 22).

``pooling_approve_and_post`` does under the row locks what ``services.transfer_approve`` did in
about fourteen statements: lock the transfer, refuse (in the service's order) the proposer, a
caller without the checker role, a checker of another province and a checker with a TOTP device
whose request was not OTP-verified (the facts about the user come from the caller), then any
state but proposed,
lock both accounts in primary-key order, check the overdraft under those locks, move the
transfer to approved and then posted (the transfer guard still checks each step), write the two
entries (the statement triggers move the balances and refuse closed accounts; the deferred
constraint triggers still prove the transfer balanced at commit), one history row per step and
the one audit event. Python keeps the error messages; the function returns the outcome and what
the message needs (the balance and limit it saw under the lock, the account's name and the
province whose checkers approve it).

Nothing here bypasses an invariant: the function runs as the caller (SECURITY INVOKER), so the
application role's grants and every trigger apply as to the statements it replaces. Entries are
written by column name with ``posted_at`` given, so a table partitioned by month accepts them.
"""

from django.db import migrations

SQL = r"""
CREATE OR REPLACE FUNCTION pooling_money_text(fen bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    -- apps.core.money.format_yuan: 12345 -> '¥123.45', thousands separated by commas.
    SELECT CASE WHEN fen < 0 THEN '-' ELSE '' END || '¥'
        || regexp_replace((abs(fen) / 100)::text, '(\d)(?=(\d{3})+$)', '\1,', 'g')
        || '.' || lpad((abs(fen) % 100)::text, 2, '0')
$$;

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
    SELECT p.code INTO credit_province FROM pooling_fundaccount a JOIN benefits_province p ON p.id = a.province_id
     WHERE a.id = t.to_account_id;
    SELECT a.name INTO credit_name FROM pooling_fundaccount a WHERE a.id = t.to_account_id;

    UPDATE pooling_transfer SET state = 'approved', approved_by_id = p_approver, approved_at = p_at WHERE id = t.id;
    INSERT INTO pooling_historicaltransfer (
        id, amount_fen, memo, state, idempotency_key, request_fingerprint, reason, created_at, approved_at, posted_at,
        closed_at, approved_by_id, closed_by_id, from_account_id, proposed_by_id, to_account_id, reverses_id,
        history_date, history_change_reason, history_type, history_user_id)
    SELECT x.id, x.amount_fen, x.memo, x.state, x.idempotency_key, x.request_fingerprint, x.reason, x.created_at,
           x.approved_at, x.posted_at, x.closed_at, x.approved_by_id, x.closed_by_id, x.from_account_id,
           x.proposed_by_id, x.to_account_id, x.reverses_id, p_at, 'approved', '~', p_approver
      FROM pooling_transfer x WHERE x.id = t.id;

    -- Entries are partitioned by month (migration 0007): the month's partition, created on
    -- first use by the owner's SECURITY DEFINER function.
    PERFORM pooling_ledger_partition_ensure(p_at);
    INSERT INTO pooling_ledgerentry (account_id, transfer_id, amount_fen, posted_at)
    VALUES (t.from_account_id, t.id, -t.amount_fen, p_at), (t.to_account_id, t.id, t.amount_fen, p_at);
    UPDATE pooling_transfer SET state = 'posted', posted_at = p_at WHERE id = t.id;
    INSERT INTO pooling_historicaltransfer (
        id, amount_fen, memo, state, idempotency_key, request_fingerprint, reason, created_at, approved_at, posted_at,
        closed_at, approved_by_id, closed_by_id, from_account_id, proposed_by_id, to_account_id, reverses_id,
        history_date, history_change_reason, history_type, history_user_id)
    SELECT x.id, x.amount_fen, x.memo, x.state, x.idempotency_key, x.request_fingerprint, x.reason, x.created_at,
           x.approved_at, x.posted_at, x.closed_at, x.approved_by_id, x.closed_by_id, x.from_account_id,
           x.proposed_by_id, x.to_account_id, x.reverses_id, p_at,
           CASE WHEN p_reason <> '' THEN 'posted: ' || p_reason ELSE 'posted' END, '~', p_approver
      FROM pooling_transfer x WHERE x.id = t.id;

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

BACKWARDS_SQL = r"""
DROP FUNCTION IF EXISTS pooling_approve_and_post(bigint, integer, text, boolean, boolean, text, text, boolean, text, timestamptz, text, text);
DROP FUNCTION IF EXISTS pooling_money_text(bigint);
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
        ("core", "0006_national_finance_users"),
        ("pooling", "0008_ledger_archive"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
