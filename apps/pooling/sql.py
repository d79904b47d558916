"""The pooling app's SQL: the ledger's soundness checks (read by selectors and the admin).

The invariants themselves live in PostgreSQL (migrations 0002: triggers and a deferred
constraint trigger); these queries let people and tests see that they hold.
"""

# Accounts whose maintained balance differs from the sum of their entries (those of detached
# months counted from their archive rows): (account id, maintained balance, sum), by account id.
BALANCE_MISMATCHES_SQL = (
    "SELECT account.id, account.balance_fen, COALESCE(entries.total_fen, 0) FROM pooling_fundaccount account "
    "LEFT JOIN (SELECT account_id, SUM(total_fen) AS total_fen FROM ("
    "SELECT account_id, SUM(amount_fen) AS total_fen FROM pooling_ledgerentry GROUP BY account_id "
    "UNION ALL SELECT account_id, SUM(entries_fen) FROM pooling_ledgerarchive GROUP BY account_id) sums GROUP BY account_id) entries "
    "ON entries.account_id = account.id WHERE account.balance_fen <> COALESCE(entries.total_fen, 0) ORDER BY account.id"
)

# Ids of posted transfers without exactly two entries summing to zero, and of transfers that are
# not posted but have entries.
UNBALANCED_TRANSFERS_SQL = (
    "SELECT transfer.id FROM pooling_transfer transfer LEFT JOIN pooling_ledgerentry entry ON entry.transfer_id = transfer.id "
    "WHERE transfer.state = 'posted' AND NOT EXISTS (SELECT 1 FROM pooling_ledgerarchive archive "
    "WHERE transfer.posted_at >= archive.period_start AND transfer.posted_at < archive.period_end) GROUP BY transfer.id HAVING COUNT(entry.id) <> 2 OR COALESCE(SUM(entry.amount_fen), 0) <> 0 "
    "UNION SELECT entry.transfer_id FROM pooling_ledgerentry entry JOIN pooling_transfer transfer ON transfer.id = entry.transfer_id "
    "WHERE transfer.state <> 'posted'"
)

# An account's balance at an instant (a statement's opening, an advance's month start): the
# maintained balance less every entry posted since, in one snapshot, the entries of detached
# months that began since counted from their archive rows. Counted backwards from the carried
# balance, so months detached before the instant never matter. Parameters: instant, instant, account id.
BALANCE_AT_SQL = (
    "SELECT account.balance_fen"
    " - COALESCE((SELECT SUM(entry.amount_fen) FROM pooling_ledgerentry entry WHERE entry.account_id = account.id AND entry.posted_at >= %s), 0)"
    " - COALESCE((SELECT SUM(archive.entries_fen) FROM pooling_ledgerarchive archive"
    " WHERE archive.account_id = account.id AND archive.period_start >= %s), 0)"
    " FROM pooling_fundaccount account WHERE account.id = %s"
)

# The month's ledger partition for an instant, created if missing (migration 0007; SECURITY
# DEFINER). Returns the partition's name. Parameter: a timestamptz in the month.
LEDGER_PARTITION_ENSURE_SQL = "SELECT pooling_ledger_partition_ensure(%s)"

# Approve and post one transfer in one call (migration 0007): the refusals, the locks, the two
# entries, the history rows and the audit event. Returns (outcome, state seen, balance seen,
# overdraft limit seen, debited account's name, province whose checkers approve it); outcome is
# 'posted' or the refusal's error code.
APPROVE_AND_POST_SQL = "SELECT * FROM pooling_approve_and_post(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
