"""Pooling admin: balances, entries and pending approvals per province; every write goes through
the services (maker-checker buttons call transfer_approve / reject / void). Entries are read-only.

The fund overview page (balances and net flows with an inline SVG chart) lives at
``/admin/pooling/fundaccount/overview/``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from apps.core.admin import MoneyReadersAdmin, PortalAdmin, PortalHistoryAdmin
from apps.core.errors import DomainError
from apps.core.money import format_yuan
from apps.core.permissions import reads_money

from . import selectors, services
from .models import AdjustmentRule, FundAccount, LedgerEntry, RegionPeriodFigures, Transfer

OVERVIEW_DAYS = 90


@admin.register(FundAccount)
class FundAccountAdmin(MoneyReadersAdmin, PortalHistoryAdmin):
    list_display = ["name", "kind", "province", "region", "balance", "overdraft_limit", "entries_link"]
    list_filter = ["kind", "province"]
    search_fields = ["name", "province__code", "region__code"]
    readonly_fields = ["kind", "province", "region", "name", "balance", "created_at"]
    fields = ["kind", "province", "region", "name", "balance", "overdraft_limit_fen", "created_at"]
    list_select_related = ["province", "region"]
    # as selectors.accounts_visible_to: the province's accounts and the national fund
    province_fields = ("province__code",)
    national_rows_field = "province"

    @admin.display(description="balance", ordering="balance_fen")
    def balance(self, obj: FundAccount) -> str:
        return format_yuan(obj.balance_fen)

    @admin.display(description="overdraft limit", ordering="overdraft_limit_fen")
    def overdraft_limit(self, obj: FundAccount) -> str:
        return format_yuan(obj.overdraft_limit_fen)

    @admin.display(description="entries")
    def entries_link(self, obj: FundAccount) -> str:
        return format_html('<a href="{}?account__id__exact={}">entries</a>', reverse("admin:pooling_ledgerentry_changelist"), obj.pk)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # accounts are opened by accounts_ensure for every province and region

    def has_delete_permission(self, request: HttpRequest, obj: FundAccount | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: FundAccount, form: Any, change: bool) -> None:
        services.account_set_overdraft_limit(
            account=obj, limit_fen=obj.overdraft_limit_fen, user=request.user, reason=request.POST.get("_change_reason", "changed in admin")
        )

    def get_urls(self) -> list[Any]:
        return [path("overview/", self.admin_site.admin_view(self.overview), name="pooling_overview"), *super().get_urls()]

    def overview(self, request: HttpRequest) -> HttpResponse:
        if not reads_money(request.user):
            raise PermissionDenied("fund balances are read by finance, provincial staff and auditors")
        since = timezone.now() - dt.timedelta(days=OVERVIEW_DAYS)
        visible = selectors.accounts_visible_to(user=request.user)
        rows = selectors.fund_flows(accounts=visible.exclude(kind=FundAccount.Kind.EXTERNAL), since=since)
        own = set(visible.values_list("pk", flat=True))
        pending = selectors.pending_transfers().filter(pk__in=selectors.transfers_visible_to(user=request.user).values("pk"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Fund balances and flows",
            "rows": rows,
            "chart": fund_chart(rows),
            "days": OVERVIEW_DAYS,
            "pending": pending[:200],
            "ledger_total": format_yuan(selectors.ledger_total_fen()),
            # Only the reader's own accounts: another province's balances are not hers to see.
            "mismatches": [m for m in selectors.ledger_balance_mismatches() if m["account"] in own],
        }
        return TemplateResponse(request, "pooling/funds.html", context)


def fund_chart(rows: list[dict[str, Any]], *, width: int = 720, bar: int = 18) -> dict[str, Any]:
    """Geometry of a horizontal bar chart of balances and net flows (drawn as inline SVG)."""
    shown = [r for r in rows if r["balance_fen"] or r["net_fen"]][:40]
    scale_max = max([abs(r["balance_fen"]) for r in shown] + [abs(r["net_fen"]) for r in shown] + [1])
    label_w, half = 260, (width - 260) // 2
    bars = []
    for index, r in enumerate(shown):
        y = index * (bar + 6)
        balance_w = int(abs(r["balance_fen"]) * half / scale_max)
        net_w = int(abs(r["net_fen"]) * half / scale_max)
        bars.append(
            {
                "y": y,
                "text_y": y + bar - 5,
                "label": str(r["account"])[:36],
                "balance_x": label_w + half if r["balance_fen"] >= 0 else label_w + half - balance_w,
                "balance_w": max(balance_w, 1),
                "net_x": label_w + half if r["net_fen"] >= 0 else label_w + half - net_w,
                "net_w": max(net_w, 1),
                "net_y": y + bar // 2,
                "title": f"{r['account']}: balance {format_yuan(r['balance_fen'])}, net {format_yuan(r['net_fen'])}",
            }
        )
    return {
        "width": width,
        "height": max(len(bars) * (bar + 6), bar),
        "bar": bar,
        "half_bar": bar // 2,
        "axis_x": label_w + half,
        "bars": bars,
    }


class TransferProposeForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Transfer
        fields = ["from_account", "to_account", "amount_fen", "memo"]


def _act(request: HttpRequest, queryset: QuerySet[Transfer], verb: str, action: Any) -> None:
    for transfer in queryset:
        try:
            action(transfer)
            messages.success(request, f"transfer #{transfer.pk}: {verb}")
        except DomainError as exc:
            messages.error(request, f"transfer #{transfer.pk}: {exc.detail} ({exc.code})")


@admin.register(Transfer)
class TransferAdmin(MoneyReadersAdmin, PortalHistoryAdmin):
    list_display = ["id", "state", "from_account", "to_account", "amount", "memo", "proposed_by", "approved_by", "created_at"]
    list_filter = ["state", "from_account__province", "from_account__kind"]
    search_fields = ["memo", "idempotency_key"]
    actions = ["approve", "reject", "void"]
    list_select_related = ["from_account", "to_account", "proposed_by", "approved_by"]
    # as selectors.transfers_visible_to: transfers debiting or crediting the province
    province_fields = ("from_account__province__code", "to_account__province__code")

    @admin.display(description="amount", ordering="amount_fen")
    def amount(self, obj: Transfer) -> str:
        return format_yuan(obj.amount_fen)

    def get_form(self, request: HttpRequest, obj: Transfer | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = TransferProposeForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Transfer | None = None) -> Any:
        if obj is not None:
            return [f.name for f in Transfer._meta.concrete_fields]
        return []

    def has_delete_permission(self, request: HttpRequest, obj: Transfer | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Transfer, form: Any, change: bool) -> None:
        if change:
            return  # transfers change only through the workflow actions
        created = services.transfer_propose(
            from_account=obj.from_account,
            to_account=obj.to_account,
            amount_fen=obj.amount_fen,
            memo=obj.memo,
            proposer=request.user,
            idempotency_key=f"admin:{uuid.uuid4()}",
        )
        obj.pk = created.pk

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None) -> HttpResponse:
        try:
            return super().add_view(request, form_url, extra_context)
        except DomainError as exc:
            messages.error(request, f"{exc.detail} ({exc.code})")
            return HttpResponseRedirect(request.get_full_path())

    @admin.action(description="Approve and post (finance checker of the debited province)")
    def approve(self, request: HttpRequest, queryset: QuerySet[Transfer]) -> None:
        _act(request, queryset, "posted", lambda t: services.transfer_approve(transfer=t, approver=request.user))

    @admin.action(description="Reject")
    def reject(self, request: HttpRequest, queryset: QuerySet[Transfer]) -> None:
        _act(request, queryset, "rejected", lambda t: services.transfer_reject(transfer=t, user=request.user, reason="rejected in admin"))

    @admin.action(description="Void (before posting)")
    def void(self, request: HttpRequest, queryset: QuerySet[Transfer]) -> None:
        _act(request, queryset, "voided", lambda t: services.transfer_void(transfer=t, user=request.user, reason="voided in admin"))


@admin.register(LedgerEntry)
class LedgerEntryAdmin(MoneyReadersAdmin, PortalAdmin):
    """Posted entries never change (a database trigger refuses it too): read-only."""

    list_display = ["id", "account", "transfer", "amount", "posted_at"]
    list_filter = ["account__kind", "account__province"]
    list_select_related = ["account", "transfer"]
    read_only = True

    def scope_queryset(self, request: HttpRequest, queryset: QuerySet[Any], province: str) -> QuerySet[Any]:
        # As the API: the national fund's entries of other provinces' transfers are not hers.
        return queryset & selectors.entries_visible_to(user=request.user)

    @admin.display(description="amount", ordering="amount_fen")
    def amount(self, obj: LedgerEntry) -> str:
        return format_yuan(obj.amount_fen)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: LedgerEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: LedgerEntry | None = None) -> bool:
        return False


@admin.register(RegionPeriodFigures)
class RegionPeriodFiguresAdmin(MoneyReadersAdmin, PortalHistoryAdmin):
    list_display = ["region", "period", "fund_income_fen", "fund_expenditure_fen", "active_insured", "retirees", "entered_by"]
    list_filter = ["period", "region__province"]
    list_select_related = ["region", "entered_by"]
    readonly_fields = ["entered_by"]
    province_fields = ("region__province__code",)

    def save_model(self, request: HttpRequest, obj: RegionPeriodFigures, form: Any, change: bool) -> None:
        saved = services.region_figures_put(
            region=obj.region,
            period=obj.period,
            fund_income_fen=obj.fund_income_fen,
            fund_expenditure_fen=obj.fund_expenditure_fen,
            active_insured=obj.active_insured,
            retirees=obj.retirees,
            user=request.user,
        )
        obj.pk = saved.pk


@admin.register(AdjustmentRule)
class AdjustmentRuleAdmin(MoneyReadersAdmin, PortalHistoryAdmin):
    list_display = [
        "province",
        "contribution_share",
        "allocation_share",
        "weight_dependency",
        "weight_deficit",
        "effective_from",
        "effective_to",
    ]
    list_filter = ["province"]
    list_select_related = ["province"]
    province_fields = ("province__code",)
