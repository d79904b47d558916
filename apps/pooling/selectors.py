"""Reads on the ledger: balances, the proof that maintained balances agree with the entries, flows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet, Sum

from apps.core.permissions import bound_province, reads_money

from . import sql
from .models import FundAccount, LedgerEntry, Transfer


def accounts_visible_to(*, user: Any) -> QuerySet[FundAccount]:
    """Accounts a money reader sees: a province-bound one her province's and the national fund;
    a national one all. Users off the money allow-list see none."""
    accounts = FundAccount.objects.select_related("province", "region")
    if not reads_money(user):
        return accounts.none()
    province = bound_province(user)
    if province:
        return accounts.filter(Q(province__code=province) | Q(kind=FundAccount.Kind.NATIONAL))
    return accounts


def transfers_visible_to(*, user: Any) -> QuerySet[Transfer]:
    """Transfers a money reader sees: a province-bound one those debiting or crediting her province."""
    transfers = Transfer.objects.select_related("from_account__province", "to_account__province", "proposed_by", "approved_by")
    if not reads_money(user):
        return transfers.none()
    province = bound_province(user)
    if province:
        return transfers.filter(Q(from_account__province__code=province) | Q(to_account__province__code=province))
    return transfers


def entries_visible_to(*, user: Any) -> QuerySet[LedgerEntry]:
    """Ledger entries a money reader sees: a province-bound one the entries on her visible accounts
    of transfers that touch her province (so the national fund's entries from other provinces'
    transfers stay theirs); a national reader all."""
    entries = LedgerEntry.objects.all()
    if not reads_money(user):
        return entries.none()
    province = bound_province(user)
    if not province:
        return entries
    touches = Q(transfer__from_account__province__code=province) | Q(transfer__to_account__province__code=province)
    return entries.filter(touches, account__in=accounts_visible_to(user=user))


def account_balance_from_entries(*, account: FundAccount) -> int:
    """The balance as the sum of the account's entries (what the maintained column must equal)."""
    return int(LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount_fen"))["total"] or 0)


def ledger_balance_mismatches() -> list[dict[str, int]]:
    """Accounts whose maintained balance differs from the sum of their entries (empty = all agree)."""
    with connection.cursor() as cursor:
        cursor.execute(sql.BALANCE_MISMATCHES_SQL)
        return [{"account": row[0], "balance_fen": int(row[1]), "entries_fen": int(row[2])} for row in cursor.fetchall()]


def ledger_total_fen() -> int:
    """Sum of every balance: 0 in a sound ledger, because money enters only via external accounts."""
    return int(FundAccount.objects.aggregate(total=Sum("balance_fen"))["total"] or 0)


def unbalanced_transfers() -> list[int]:
    """Posted transfers that do not have exactly two entries summing to zero (empty = sound)."""
    with connection.cursor() as cursor:
        cursor.execute(sql.UNBALANCED_TRANSFERS_SQL)
        return sorted(int(row[0]) for row in cursor.fetchall())


def pending_transfers(*, province_code: str | None = None) -> QuerySet[Transfer]:
    """Proposed transfers waiting for a checker (of ``province_code``'s debited accounts)."""
    pending = Transfer.objects.filter(state=Transfer.State.PROPOSED).select_related("from_account__province", "to_account", "proposed_by")
    if province_code:
        pending = pending.filter(from_account__province__code=province_code)
    return pending.order_by("created_at")


def fund_flows(*, accounts: QuerySet[FundAccount], since: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Per account: balance, money in and out (posted entries since ``since``) and net flow."""
    entries = LedgerEntry.objects.filter(account__in=accounts)
    if since is not None:
        entries = entries.filter(posted_at__gte=since)
    sums: dict[int, Any] = {
        row["account"]: row
        for row in entries.values("account")
        .annotate(inflow=Sum("amount_fen", filter=Q(amount_fen__gt=0)), outflow=Sum("amount_fen", filter=Q(amount_fen__lt=0)))
        .order_by()
    }
    rows = []
    for account in accounts.order_by("province__code", "kind", "id"):
        inflow = int(sums.get(account.pk, {}).get("inflow") or 0)
        outflow = -int(sums.get(account.pk, {}).get("outflow") or 0)
        rows.append(
            {
                "account": account,
                "balance_fen": account.balance_fen,
                "inflow_fen": inflow,
                "outflow_fen": outflow,
                "net_fen": inflow - outflow,
            }
        )
    return rows
