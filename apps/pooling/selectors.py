"""Reads on the ledger (balances, the proof that maintained balances agree with the entries, flows)
and on provincial pooling (figures, risk-adjustment runs, advances, budgets), walled by province."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.benefits.models import Province
from apps.catalog.exports import neutralise_formula
from apps.core.errors import NotFound, ValidationFailed
from apps.core.permissions import bound_province, reads_money
from apps.core.reasons import memo_label

from . import adjustment, sql
from .models import (
    AdjustmentRule,
    AdjustmentRun,
    AdvanceFundPolicy,
    ClearingResult,
    FundAccount,
    LedgerArchive,
    LedgerEntry,
    PoolingBudget,
    PoolingModelChange,
    RegionPeriodFigures,
    Transfer,
)


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
    live = LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount_fen"))["total"] or 0
    archived = LedgerArchive.objects.filter(account=account).aggregate(total=Sum("entries_fen"))["total"] or 0
    return int(live) + int(archived)


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


def pending_debits_fen(*, account: FundAccount) -> int:
    """Money proposed out of ``account`` and not yet posted, rejected or voided."""
    pending = Transfer.objects.filter(from_account=account, state__in=[Transfer.State.PROPOSED, Transfer.State.APPROVED])
    return int(pending.aggregate(total=Sum("amount_fen"))["total"] or 0)


def account_available_fen(*, account: FundAccount) -> int | None:
    """What ``account`` can still pay: balance + overdraft limit − debits waiting for approval.
    None for an external account (it mirrors money outside the ledger and has no limit)."""
    if account.kind == FundAccount.Kind.EXTERNAL:
        return None
    return account.balance_fen + account.overdraft_limit_fen - pending_debits_fen(account=account)


def available_by_account(*, accounts: QuerySet[FundAccount]) -> dict[int, int | None]:
    """account_available_fen for many accounts in two statements (form dropdowns)."""
    rows = list(accounts.values_list("pk", "kind", "balance_fen", "overdraft_limit_fen"))
    pending = dict(
        Transfer.objects.filter(from_account__in=[pk for pk, *_ in rows], state__in=[Transfer.State.PROPOSED, Transfer.State.APPROVED])
        .values("from_account")
        .annotate(total=Sum("amount_fen"))
        .order_by()
        .values_list("from_account", "total")
    )
    return {
        pk: None if kind == FundAccount.Kind.EXTERNAL else balance + limit - int(pending.get(pk) or 0) for pk, kind, balance, limit in rows
    }


def proposable_accounts(*, user: Any) -> QuerySet[FundAccount]:
    """Accounts a maker may name in a proposal from the admin form: the accounts she sees
    (her province's and the national fund, or all for national staff), open ones only."""
    return accounts_visible_to(user=user).filter(closed_at__isnull=True).order_by("province__code", "kind", "id")


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


# --- provincial pooling ------------------------------------------------------------------------------


def _walled(queryset: QuerySet[Any], user: Any, field: str) -> QuerySet[Any]:
    """The money allow-list and the province wall (``core.permissions``), on pooling's own rows."""
    if not reads_money(user):
        return queryset.none()
    province = bound_province(user)
    return queryset.filter(**{field: province}) if province else queryset


def figures_visible_to(*, user: Any) -> QuerySet[RegionPeriodFigures]:
    return _walled(RegionPeriodFigures.objects.select_related("province", "region"), user, "province__code")


def rule_in_force(*, period: str, province: Province | None) -> AdjustmentRule | None:
    """The rule of ``province`` (None: the national rule) in force on the period's first day."""
    first_day = dt.date(int(period[:4]), int(period[5:]), 1)
    rules = AdjustmentRule.objects.filter(effective_from__lte=first_day).filter(
        Q(effective_to__isnull=True) | Q(effective_to__gt=first_day)
    )
    rules = rules.filter(province=province) if province is not None else rules.filter(province__isnull=True)
    return rules.order_by("-effective_from").first()


def adjustment_inputs(*, period: str, province: Province | None) -> tuple[AdjustmentRule, list[adjustment.UnitFigures]]:
    """The rule in force and the units' figures of ``period``: the province's regions (by code),
    or for the national level every province with figures, each the sum of its region rows and
    its own row. Raises NotFound ``rule_unknown`` / ``figures_missing``."""
    rule = rule_in_force(period=period, province=province)
    if rule is None:
        scope = province.code if province is not None else "the national fund"
        raise NotFound(
            format_lazy(_("no adjustment rule for {scope} in force in {period}"), scope=scope, period=period), code="rule_unknown"
        )
    figures = RegionPeriodFigures.objects.filter(period=period)
    units: list[adjustment.UnitFigures]
    if province is not None:
        rows = figures.filter(province=province, region__isnull=False).select_related("region").order_by("region__code")
        units = [
            adjustment.UnitFigures(
                code=f.region.code,
                name=f.region.name,
                fund_income_fen=f.fund_income_fen,
                fund_expenditure_fen=f.fund_expenditure_fen,
                active_insured=f.active_insured,
                retirees=f.retirees,
            )
            for f in rows
            if f.region is not None
        ]
    else:
        sums = (
            figures.values("province__code", "province__name")
            .annotate(
                income=Sum("fund_income_fen"),
                expenditure=Sum("fund_expenditure_fen"),
                active=Sum("active_insured"),
                retired=Sum("retirees"),
            )
            .order_by("province__code")
        )
        units = [
            adjustment.UnitFigures(
                code=row["province__code"],
                name=row["province__name"],
                fund_income_fen=int(row["income"]),
                fund_expenditure_fen=int(row["expenditure"]),
                active_insured=int(row["active"]),
                retirees=int(row["retired"]),
            )
            for row in sums
        ]
    if not units:
        scope = province.code if province is not None else "any province"
        raise NotFound(format_lazy(_("no region figures of {scope} for {period}"), scope=scope, period=period), code="figures_missing")
    return rule, units


def adjustment_runs_visible_to(*, user: Any) -> QuerySet[AdjustmentRun]:
    """Provincial runs of the reader's province and every national run (whose rows a walled
    reader sees only for her own province, see ``adjustment_run_rows_for``)."""
    runs = AdjustmentRun.objects.select_related("province", "rule", "started_by")
    if not reads_money(user):
        return runs.none()
    province = bound_province(user)
    return runs.filter(Q(province__code=province) | Q(province__isnull=True)) if province else runs


def adjustment_run_rows_for(*, run: AdjustmentRun, user: Any) -> list[dict[str, Any]]:
    """A run's unit rows as the reader may see them: a walled reader of a national run sees her
    own province's row only (other provinces' figures are theirs)."""
    province = bound_province(user)
    if province and run.province_id is None:
        return [row for row in run.rows if row.get("code") == province]
    return list(run.rows)


def advance_projected_fen(*, account: FundAccount) -> int:
    """The advance as it will stand once what is proposed or approved is posted: the balance,
    minus debits waiting, plus credits (top-ups) waiting."""
    waiting = Transfer.objects.filter(state__in=[Transfer.State.PROPOSED, Transfer.State.APPROVED])
    out = waiting.filter(from_account=account).aggregate(total=Sum("amount_fen"))["total"] or 0
    incoming = waiting.filter(to_account=account).aggregate(total=Sum("amount_fen"))["total"] or 0
    return int(account.balance_fen - out + incoming)


def advance_positions(*, user: Any) -> list[dict[str, Any]]:
    """Per province the reader may see: the advance account, its balance, the projected balance,
    the policy (threshold, target) and the top-ups waiting for approval."""
    accounts = _walled(
        FundAccount.objects.select_related("province").filter(kind=FundAccount.Kind.ADVANCE), user, "province__code"
    ).order_by("province__code")
    policies = {p.province_id: p for p in AdvanceFundPolicy.objects.all()}
    waiting = Transfer.objects.filter(state__in=[Transfer.State.PROPOSED, Transfer.State.APPROVED])
    out = dict(waiting.filter(from_account__in=accounts).values_list("from_account").annotate(total=Sum("amount_fen")).order_by())
    incoming = dict(waiting.filter(to_account__in=accounts).values_list("to_account").annotate(total=Sum("amount_fen")).order_by())
    rows = []
    for account in accounts:
        policy = policies.get(account.province_id)
        projected = account.balance_fen - int(out.get(account.pk) or 0) + int(incoming.get(account.pk) or 0)
        rows.append(
            {
                "province": account.province_code,
                "province_name": account.province.name if account.province else "",
                "account": account.pk,
                "balance_fen": account.balance_fen,
                "projected_fen": projected,
                "threshold_fen": policy.threshold_fen if policy else None,
                "target_fen": policy.target_fen if policy else None,
                "waiting_debits_fen": int(out.get(account.pk) or 0),
                "waiting_topups_fen": int(incoming.get(account.pk) or 0),
                "below_threshold": bool(policy and projected < policy.threshold_fen),
            }
        )
    return rows


def _month_bounds(period: str) -> tuple[dt.datetime, dt.datetime]:
    year, month = int(period[:4]), int(period[5:])
    start = dt.date(year, month, 1)
    end = dt.date(year + (month == 12), month % 12 + 1, 1)
    tz = timezone.get_current_timezone()
    return dt.datetime.combine(start, dt.time.min, tz), dt.datetime.combine(end, dt.time.min, tz)


def advance_statement(*, province_code: str, period: str) -> dict[str, Any]:
    """The province's advance (预付金) over one month, for its monthly statement: opening and
    closing balance, what the clearing drew and what top-ups added (posted entries of the
    month, by the posting time in the portal's time zone), the policy, and the top-ups still
    waiting at the time of the call. Money in fen. The opening balance is the account statement's
    (``account_balance_at``), so it holds after old months are detached."""
    account = FundAccount.objects.select_related("province").get(kind=FundAccount.Kind.ADVANCE, province__code=province_code)
    start, end = _month_bounds(period)
    opening = account_balance_at(account=account, at=start)
    month = LedgerEntry.objects.filter(account=account, posted_at__gte=start, posted_at__lt=end)
    drawn = -int(month.filter(amount_fen__lt=0).aggregate(total=Sum("amount_fen"))["total"] or 0)
    added = int(month.filter(amount_fen__gt=0).aggregate(total=Sum("amount_fen"))["total"] or 0)
    policy = AdvanceFundPolicy.objects.filter(province__code=province_code).first()
    waiting = list(
        Transfer.objects.filter(to_account=account, state__in=[Transfer.State.PROPOSED, Transfer.State.APPROVED])
        .order_by("pk")
        .values("id", "amount_fen", "created_at")
    )
    return {
        "province": province_code,
        "period": period,
        "account": account.pk,
        "opening_balance_fen": opening,
        "drawn_fen": drawn,
        "topped_up_fen": added,
        "closing_balance_fen": opening - drawn + added,
        "threshold_fen": policy.threshold_fen if policy else None,
        "target_fen": policy.target_fen if policy else None,
        "waiting_topups": waiting,
    }


def clearing_accounts(*, province_codes: list[str]) -> dict[str, FundAccount]:
    """The account the monthly clearing debits for each paying province: its advance (预付金)
    when the province pre-funds clearing (it has an advance policy), else its provincial fund."""
    with_policy = set(AdvanceFundPolicy.objects.filter(province__code__in=province_codes).values_list("province__code", flat=True))
    accounts = FundAccount.objects.select_related("province").filter(
        province__code__in=province_codes, kind__in=[FundAccount.Kind.PROVINCIAL, FundAccount.Kind.ADVANCE]
    )
    chosen: dict[str, FundAccount] = {}
    for account in accounts:
        wanted = FundAccount.Kind.ADVANCE if account.province_code in with_policy else FundAccount.Kind.PROVINCIAL
        if account.kind == wanted:
            chosen[account.province_code] = account
    return chosen


def budgets_visible_to(*, user: Any) -> QuerySet[PoolingBudget]:
    return _walled(PoolingBudget.objects.select_related("province", "region"), user, "province__code")


def _monthly_actuals(budget: PoolingBudget) -> dict[int, int]:
    """Actual cross-regional expenditure per month (1..12) of the budget's year: a region's
    reported figures, a province's settled cross-province amounts (ClearingResult)."""
    prefix = f"{budget.year:04d}-"
    rows: list[tuple[str, int]]
    if budget.region_id is not None:
        figures = RegionPeriodFigures.objects.filter(region_id=budget.region_id, period__startswith=prefix)
        rows = list(figures.values_list("period", "cross_regional_fen"))
    else:
        cleared = ClearingResult.objects.filter(province_id=budget.province_id, period__startswith=prefix)
        rows = list(cleared.values_list("period", "payable_fen"))
    return {int(period[5:]): int(amount) for period, amount in rows}


def budget_actual_fen(*, budget: PoolingBudget) -> int:
    """The year's actual cross-regional expenditure so far (what the alert compares)."""
    return sum(_monthly_actuals(budget).values())


def budget_months(*, budget: PoolingBudget) -> list[dict[str, Any]]:
    """Budget against actual per month: the cross-regional budget spread evenly over the twelve
    months (whole fen, adding up to the year's amount), the actual, both cumulated."""
    planned = adjustment.largest_remainder(budget.cross_regional_fen, [Decimal(1)] * 12)
    actuals = _monthly_actuals(budget)
    rows, planned_sum, actual_sum = [], 0, 0
    for month in range(1, 13):
        actual = actuals.get(month)
        planned_sum += planned[month - 1]
        actual_sum += actual or 0
        rows.append(
            {
                "month": f"{budget.year:04d}-{month:02d}",
                "budget_fen": planned[month - 1],
                "actual_fen": actual,
                "budget_to_date_fen": planned_sum,
                "actual_to_date_fen": actual_sum,
            }
        )
    return rows


def pooling_changes_visible_to(*, user: Any) -> QuerySet[PoolingModelChange]:
    return _walled(PoolingModelChange.objects.select_related("province", "proposed_by", "completed_by"), user, "province__code")


# --- account statements (issue 18) --------------------------------------------------------------------

# A statement covers at most a year and lists at most this many entries: a longer one is refused
# with a message that says to narrow the range (the pinned shape is one list, not pages).
STATEMENT_MAX_DAYS = 366
STATEMENT_MAX_ENTRIES = 20_000
STATEMENT_CSV_COLUMNS = ("row", "posted_at", "entry", "transfer", "counterpart_account", "memo", "amount_fen", "balance_fen")


def statement_accounts_visible_to(*, user: Any) -> QuerySet[FundAccount]:
    """Accounts whose statement ``user`` reads: a province-bound money reader her province's
    accounts only (the national fund's statement holds every province's movements); a national
    reader all; anyone off the money allow-list none."""
    accounts = FundAccount.objects.select_related("province", "region")
    if not reads_money(user):
        return accounts.none()
    province = bound_province(user)
    return accounts.filter(province__code=province) if province else accounts


def statement_entries_shown(*, statement: dict[str, Any]) -> list[dict[str, Any]]:
    """A statement's entries as people read them (the staff page, the PDF): each with its
    counterpart account by name (``counterpart_name``) and its memo by label (``memo_shown``)."""
    ids = {entry["counterpart_account"] for entry in statement["entries"]}
    names = {account.pk: str(account) for account in FundAccount.objects.filter(pk__in=ids)}
    return [
        {
            **entry,
            "counterpart_name": names.get(entry["counterpart_account"], f"#{entry['counterpart_account']}"),
            "memo_shown": memo_label(entry["memo"]),
        }
        for entry in statement["entries"]
    ]


def statement_range(*, date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[from 00:00, the day after ``date_to`` 00:00) in the portal's time zone. Raises
    ValidationFailed ``validation_error`` with ``errors[].code`` ``range_reversed`` or
    ``range_too_long`` (more than a year)."""
    if date_to < date_from:
        raise ValidationFailed(
            _("the statement ends before it starts"),
            errors=[{"field": "to", "code": "range_reversed", "message": "to must not precede from"}],
        )
    if (date_to - date_from).days + 1 > STATEMENT_MAX_DAYS:
        raise ValidationFailed(
            _("a statement covers at most one year; ask for several"),
            errors=[{"field": "to", "code": "range_too_long", "message": f"at most {STATEMENT_MAX_DAYS} days from 'from'"}],
        )
    tz = timezone.get_current_timezone()
    return dt.datetime.combine(date_from, dt.time.min, tz), dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tz)


def account_balance_at(*, account: FundAccount, at: dt.datetime) -> int:
    """The account's balance at instant ``at`` (entries posted before it), in fen: the carried
    balance less what was posted since, detached months included through their archive sums
    (one statement). The one opening balance of statements, which survives ``detach_partition``."""
    with connection.cursor() as cursor:
        cursor.execute(sql.BALANCE_AT_SQL, [at, at, account.pk])
        return int(cursor.fetchone()[0])


def account_statement(*, account: FundAccount, date_from: dt.date, date_to: dt.date) -> dict[str, Any]:
    """The account's statement over [date_from, date_to] (whole days, portal time zone): the
    balance before the first day, every posted entry in posting order with its transfer, memo,
    counterpart account and running balance, and the balance after the last day. Money in fen.

    Raises ValidationFailed (``range_reversed``, ``range_too_long``, ``statement_too_long`` when
    the range holds more than STATEMENT_MAX_ENTRIES entries). Callers check visibility first
    (``statement_accounts_visible_to``)."""
    start, end = statement_range(date_from=date_from, date_to=date_to)
    entries = LedgerEntry.objects.filter(account=account)
    opening = account_balance_at(account=account, at=start)
    rows = list(
        entries.filter(posted_at__gte=start, posted_at__lt=end)
        .order_by("posted_at", "id")
        .values("id", "posted_at", "amount_fen", "transfer_id", "transfer__memo", "transfer__from_account_id", "transfer__to_account_id")[
            : STATEMENT_MAX_ENTRIES + 1
        ]
    )
    if len(rows) > STATEMENT_MAX_ENTRIES:
        raise ValidationFailed(
            format_lazy(
                _("more than {STATEMENT_MAX_ENTRIES} entries in this range; ask for a shorter one"),
                STATEMENT_MAX_ENTRIES=STATEMENT_MAX_ENTRIES,
            ),
            errors=[{"field": "to", "code": "statement_too_long", "message": f"at most {STATEMENT_MAX_ENTRIES} entries per statement"}],
        )
    balance = opening
    lines = []
    for row in rows:
        balance += row["amount_fen"]
        from_id, to_id = row["transfer__from_account_id"], row["transfer__to_account_id"]
        lines.append(
            {
                "id": row["id"],
                "posted_at": row["posted_at"],
                "transfer": row["transfer_id"],
                "counterpart_account": to_id if from_id == account.pk else from_id,
                "memo": row["transfer__memo"],
                "amount_fen": row["amount_fen"],
                "balance_fen": balance,
            }
        )
    return {
        "account": account.pk,
        "account_name": account.name,
        "province": account.province_code,
        "from": date_from,
        "to": date_to,
        "opening_balance_fen": opening,
        "entries": lines,
        "closing_balance_fen": balance,
    }


def account_statement_csv(*, statement: dict[str, Any]) -> str:
    """The statement as CSV: an ``opening`` row, one ``entry`` row per entry, a ``closing`` row
    (money in fen; memos that start like a formula are neutralised for spreadsheets)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(STATEMENT_CSV_COLUMNS)
    writer.writerow(["opening", statement["from"].isoformat(), "", "", "", "", "", statement["opening_balance_fen"]])
    for e in statement["entries"]:
        posted = timezone.localtime(e["posted_at"]).isoformat()
        memo = neutralise_formula(e["memo"])
        writer.writerow(["entry", posted, e["id"], e["transfer"], e["counterpart_account"], memo, e["amount_fen"], e["balance_fen"]])
    writer.writerow(["closing", statement["to"].isoformat(), "", "", "", "", "", statement["closing_balance_fen"]])
    return buffer.getvalue()


def advance_topups_after_clearing(*, province_code: str, period: str) -> list[Transfer]:
    """Top-ups of the province's advance proposed after the ``period`` clearing (any state), in
    proposal order: ``services._advance_topup`` names the period in their memo."""
    return list(
        Transfer.objects.filter(
            to_account__kind=FundAccount.Kind.ADVANCE,
            to_account__province__code=province_code,
            memo__endswith=f" after the {period} clearing",
        )
        .select_related("from_account", "to_account")
        .order_by("pk")
    )


def prefunds_clearing(*, province_code: str) -> bool:
    """Whether the province pays its clearing from its advance (it has an advance policy)."""
    return AdvanceFundPolicy.objects.filter(province__code=province_code).exists()
