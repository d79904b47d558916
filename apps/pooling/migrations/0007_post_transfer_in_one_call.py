"""Approving and posting a transfer in one database call (issue 22).

``pooling_approve_and_post`` does under the row locks what ``services.transfer_approve`` did in
about fourteen statements: lock the transfer, refuse the proposer and any state but proposed,
lock both accounts in primary-key order, check the overdraft under those locks, move the
transfer to approved and then posted (the transfer guard still checks each step), write the two
entries (the statement triggers move the balances and refuse closed accounts; the deferred
constraint triggers still prove the transfer balanced at commit), one history row per step and
the one audit event. Python keeps the permission checks and the error messages; the function
returns the outcome and, on an overdraft, the balance and limit it saw under the lock.

Nothing here bypasses an invariant: the function runs as the caller (SECURITY INVOKER), so the
application role's grants and every trigger apply as to the statements it replaces. Entries are
written by column name with ``posted_at`` given, so a table partitioned by month accepts them.
"""

from django.db import migrations

SQL = r"""
CREATE OR REPLACE FUNCTION pooling_approve_and_post(
    p_transfer bigint,
    p_approver integer,
    p_at timestamptz,
    p_actor_label text,
    p_action text,
    p_object_repr text,
    p_province text,
    p_detail jsonb
) RETURNS TABLE (outcome text, state text, balance_fen bigint, overdraft_limit_fen bigint)
LANGUAGE plpgsql SET search_path = {path} AS $$
DECLARE
    t pooling_transfer%ROWTYPE;
    debit pooling_fundaccount%ROWTYPE;
BEGIN
    SELECT * INTO t FROM pooling_transfer WHERE id = p_transfer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::text, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF t.proposed_by_id = p_approver THEN
        RETURN QUERY SELECT 'same_user_cannot_approve'::text, t.state::text, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF t.state <> 'proposed' THEN
        RETURN QUERY SELECT 'transfer_not_proposed'::text, t.state::text, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    -- Both accounts, in primary-key order (as every other path locks them).
    PERFORM 1 FROM pooling_fundaccount a WHERE a.id IN (t.from_account_id, t.to_account_id) ORDER BY a.id FOR UPDATE;
    SELECT * INTO debit FROM pooling_fundaccount a WHERE a.id = t.from_account_id;
    IF debit.kind <> 'external' AND debit.balance_fen - t.amount_fen < -debit.overdraft_limit_fen THEN
        RETURN QUERY SELECT 'insufficient_funds'::text, t.state::text, debit.balance_fen, debit.overdraft_limit_fen;
        RETURN;
    END IF;

    UPDATE pooling_transfer SET state = 'approved', approved_by_id = p_approver, approved_at = p_at WHERE id = t.id;
    INSERT INTO pooling_historicaltransfer (
        id, amount_fen, memo, state, idempotency_key, request_fingerprint, reason, created_at, approved_at, posted_at,
        closed_at, approved_by_id, closed_by_id, from_account_id, proposed_by_id, to_account_id, reverses_id,
        history_date, history_change_reason, history_type, history_user_id)
    SELECT x.id, x.amount_fen, x.memo, x.state, x.idempotency_key, x.request_fingerprint, x.reason, x.created_at,
           x.approved_at, x.posted_at, x.closed_at, x.approved_by_id, x.closed_by_id, x.from_account_id,
           x.proposed_by_id, x.to_account_id, x.reverses_id, p_at, 'approved', '~', p_approver
      FROM pooling_transfer x WHERE x.id = t.id;

    INSERT INTO pooling_ledgerentry (account_id, transfer_id, amount_fen, posted_at)
    VALUES (t.from_account_id, t.id, -t.amount_fen, p_at), (t.to_account_id, t.id, t.amount_fen, p_at);
    UPDATE pooling_transfer SET state = 'posted', posted_at = p_at WHERE id = t.id;
    INSERT INTO pooling_historicaltransfer (
        id, amount_fen, memo, state, idempotency_key, request_fingerprint, reason, created_at, approved_at, posted_at,
        closed_at, approved_by_id, closed_by_id, from_account_id, proposed_by_id, to_account_id, reverses_id,
        history_date, history_change_reason, history_type, history_user_id)
    SELECT x.id, x.amount_fen, x.memo, x.state, x.idempotency_key, x.request_fingerprint, x.reason, x.created_at,
           x.approved_at, x.posted_at, x.closed_at, x.approved_by_id, x.closed_by_id, x.from_account_id,
           x.proposed_by_id, x.to_account_id, x.reverses_id, p_at, 'posted', '~', p_approver
      FROM pooling_transfer x WHERE x.id = t.id;

    INSERT INTO core_auditevent (occurred_at, actor_id, actor_label, action, object_type, object_id, object_repr,
                                 province_code, reason, detail)
    VALUES (p_at, p_approver, p_actor_label, p_action, 'pooling.transfer', t.id::text, p_object_repr, p_province, '', p_detail);

    RETURN QUERY SELECT 'posted'::text, 'posted'::text, debit.balance_fen - t.amount_fen, debit.overdraft_limit_fen;
END $$;
"""

BACKWARDS_SQL = r"""
DROP FUNCTION IF EXISTS pooling_approve_and_post(bigint, integer, timestamptz, text, text, text, text, jsonb);
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
        ("pooling", "0006_provincial_pooling"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
