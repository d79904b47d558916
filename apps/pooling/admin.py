"""Pooling admin: balances, entries and pending approvals per province; every write goes through
the services (maker-checker buttons call transfer_approve / reject / void). Entries are read-only.

The funds page (``/admin/pooling/fundaccount/overview/``) shows, walled by province, balances
and net flows, the advance funds (预付金) against their thresholds, a risk-adjustment run's
contributions and allocations with its formula, and a budget against its actual per month, each
as a Chart.js chart in yuan (an inline SVG and the tables without JavaScript). Figures are
imported and risk adjustment is run from their changelists (both queue a job).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.benefits.models import Province
from apps.core.admin import AddThroughServiceMixin, MoneyReadersAdmin, PortalAdmin, PortalHistoryAdmin, scoped_province
from apps.core.detail import OPTIONAL, REQUIRED, Action, DetailActionsMixin
from apps.core.errors import DomainError
from apps.core.forms import LARGE_AMOUNT_FEN, YuanField
from apps.core.money import format_yuan
from apps.core.permissions import reads_money
from apps.core.reasons import error_message, error_tags, memo_label, reason_label

from . import selectors, services
from .models import (
    AdjustmentRule,
    AdjustmentRun,
    AdvanceFundPolicy,
    ClearingResult,
    FundAccount,
    LedgerEntry,
    PoolingBudget,
    PoolingModelChange,
    RegionPeriodFigures,
    Transfer,
)

OVERVIEW_DAYS = 90


@admin.register(FundAccount)
class FundAccountAdmin(MoneyReadersAdmin, PortalHistoryAdmin):
    list_display = ["name", "kind", "province", "region", "balance", "overdraft_limit", "entries_link", "statement_link"]
    list_filter = ["kind", "province"]
    search_fields = ["name", "province__code", "region__code"]
    readonly_fields = ["kind", "province", "region", "name", "balance", "statement_link", "created_at"]
    fields = ["kind", "province", "region", "name", "balance", "statement_link", "overdraft_limit_fen", "created_at"]
    list_select_related = ["province", "region"]
    # as selectors.accounts_visible_to: the province's accounts and the national fund
    province_fields = ("province__code",)
    national_rows_field = "province"

    @admin.display(description=_("balance"), ordering="balance_fen")
    def balance(self, obj: FundAccount) -> str:
        return format_yuan(obj.balance_fen)

    @admin.display(description=_("overdraft limit"), ordering="overdraft_limit_fen")
    def overdraft_limit(self, obj: FundAccount) -> str:
        return format_yuan(obj.overdraft_limit_fen)

    @admin.display(description=_("entries"))
    def entries_link(self, obj: FundAccount) -> str:
        return format_html(
            '<a href="{}?account__id__exact={}">{}</a>', reverse("admin:pooling_ledgerentry_changelist"), obj.pk, _("entries")
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[FundAccount]:
        # Whether the reader may open the account's statement (a province-bound reader: not the
        # national fund's, which holds every province's movements).
        readable = selectors.statement_accounts_visible_to(user=request.user).values("pk")
        return super().get_queryset(request).annotate(statement_readable=ExpressionWrapper(Q(pk__in=readable), output_field=BooleanField()))

    @admin.display(description=_("statement"))
    def statement_link(self, obj: FundAccount) -> str:
        if not getattr(obj, "statement_readable", False):
            return "—"
        return format_html(
            '<a class="statement-link" href="{}">{}</a>', reverse("pooling:account-statement", args=[obj.pk]), _("statement")
        )

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
            raise PermissionDenied(_("fund balances are read by finance, provincial staff and auditors"))
        since = timezone.now() - dt.timedelta(days=OVERVIEW_DAYS)
        user = request.user
        visible = selectors.accounts_visible_to(user=user)
        rows = selectors.fund_flows(accounts=visible.exclude(kind=FundAccount.Kind.EXTERNAL), since=since)
        own = set(visible.values_list("pk", flat=True))
        pending = selectors.pending_transfers().filter(pk__in=selectors.transfers_visible_to(user=user).values("pk"))
        runs = selectors.adjustment_runs_visible_to(user=user).filter(state=AdjustmentRun.State.SUCCEEDED)
        run = runs.filter(pk=request.GET["run"]).first() if request.GET.get("run", "").isdigit() else runs.first()
        year = int(request.GET["year"]) if request.GET.get("year", "").isdigit() else timezone.localdate().year
        budgets = selectors.budgets_visible_to(user=user).filter(year=year)
        budget = budgets.filter(pk=request.GET["budget"]).first() if request.GET.get("budget", "").isdigit() else budgets.first()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Fund balances and flows"),
            "rows": rows,
            "chart": fund_chart(rows),
            "days": OVERVIEW_DAYS,
            "pending": pending[:200],
            "ledger_total": format_yuan(selectors.ledger_total_fen()),
            # Only the reader's own accounts: another province's balances are not hers to see.
            "mismatches": [m for m in selectors.ledger_balance_mismatches() if m["account"] in own],
            "advances": selectors.advance_positions(user=user),
            "runs": runs[:20],
            "run": run,
            "run_rows": selectors.adjustment_run_rows_for(run=run, user=user) if run else [],
            "year": year,
            "budgets": budgets,
            "budget": budget,
            "budget_months": selectors.budget_months(budget=budget) if budget else [],
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


class AccountChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """Accounts by name, each with what it can still pay (balance + overdraft limit − debits
    waiting for approval), so the maker sees the debited account's available balance."""

    available: dict[int, int | None] = {}

    def label_from_instance(self, obj: FundAccount) -> str:
        available = self.available.get(obj.pk)
        if available is None:
            return str(obj)
        return gettext("%(account)s — available %(amount)s") % {"account": obj, "amount": format_yuan(available)}


class TransferProposeForm(forms.ModelForm):  # type: ignore[type-arg]
    """A maker's proposal: accounts she may name, the amount in yuan (元), parsed exactly into
    fen; more than the debited account can pay is refused here and again by the service
    (409 insufficient_funds); ¥1,000,000.00 or more asks a second, explicit confirmation."""

    from_account = AccountChoiceField(FundAccount.objects.none(), label=_("Debit account (pays)"))
    to_account = AccountChoiceField(FundAccount.objects.none(), label=_("Credit account (receives)"))
    amount_fen = YuanField(min_fen=1, label=_("Amount (元)"), help_text=_("In yuan with at most two decimals, e.g. 1234.56."))
    memo = forms.CharField(max_length=255, required=False, label=_("Memo"))
    confirm_large = forms.BooleanField(required=False, widget=forms.HiddenInput, label=_("I confirm this large amount"))

    class Meta:
        model = Transfer
        fields = ["from_account", "to_account", "amount_fen", "memo"]

    user: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        accounts = selectors.proposable_accounts(user=self.user)
        available = selectors.available_by_account(accounts=accounts)
        for name in ("from_account", "to_account"):
            field = self.fields[name]
            field.queryset = accounts  # type: ignore[attr-defined]
            field.available = available if name == "from_account" else {}  # type: ignore[attr-defined]
        self.available = available

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        debit, amount = data.get("from_account"), data.get("amount_fen")
        if debit is None or amount is None:
            return data
        available = self.available.get(debit.pk)
        if available is not None and amount > available:
            self.add_error(
                "amount_fen",
                gettext("%(account)s can pay %(available)s; %(amount)s is more.")
                % {"account": debit, "available": format_yuan(max(available, 0)), "amount": format_yuan(amount)},
            )
        elif amount >= LARGE_AMOUNT_FEN and not data.get("confirm_large"):
            # The second step: the same form again, with the box to tick now shown.
            self.fields["confirm_large"].widget = forms.CheckboxInput(attrs={"id": "id_confirm_large"})
            self.add_error(
                "confirm_large",
                gettext("%(amount)s is ¥1,000,000.00 or more: check the accounts and the amount, tick the box and save again.")
                % {"amount": format_yuan(amount)},
            )
        return data


TRANSFER_DETAIL_FIELDS = (
    "number",
    "state_shown",
    "from_account",
    "to_account",
    "amount",
    "memo_shown",
    "proposed_by",
    "created_at",
    "approved_by",
    "posted_at",
    "closed_by",
    "closed_at",
    "reason",
    "reverses_link",
    "reversals_shown",
    "debit_available",
)


@admin.register(Transfer)
class TransferAdmin(DetailActionsMixin, MoneyReadersAdmin, PortalHistoryAdmin):
    """Transfers: the list, the maker's proposal form (yuan) and each transfer's detail page with
    its timeline and the buttons this user may use (approve, reject, void, reverse), each behind a
    confirmation step (``apps.core.detail``). No bulk workflow actions: every yuan is confirmed
    on its own page."""

    list_display = ["number", "state_shown", "from_account", "to_account", "amount", "memo_short", "proposed_by"]
    list_display_links = ["number"]
    date_hierarchy = "created_at"
    list_filter = ["state", "from_account__province", "from_account__kind"]
    search_fields = ["memo", "idempotency_key"]
    actions = None
    list_select_related = ["from_account", "to_account", "proposed_by"]
    # as selectors.transfers_visible_to: transfers debiting or crediting the province
    province_fields = ("from_account__province__code", "to_account__province__code")

    @admin.display(description=_("transfer"), ordering="id")
    def number(self, obj: Transfer) -> str:
        return f"#{obj.pk}"

    @admin.display(description=_("state"), ordering="state")
    def state_shown(self, obj: Transfer) -> str:
        return str(obj.get_state_display())

    @admin.display(description=_("amount"), ordering="amount_fen")
    def amount(self, obj: Transfer) -> str:
        return format_html('<span class="money" style="white-space:nowrap">{}</span>', format_yuan(obj.amount_fen))

    @admin.display(description=_("memo"))
    def memo_shown(self, obj: Transfer) -> str:
        """The memo as people read it (a process's memo in the reader's language)."""
        return memo_label(obj.memo) or "—"

    @admin.display(description=_("memo"))
    def memo_short(self, obj: Transfer) -> str:
        memo = memo_label(obj.memo)
        return memo if len(memo) <= 40 else memo[:39] + "…"

    @admin.display(description=_("reverses"))
    def reverses_link(self, obj: Transfer) -> str:
        if obj.reverses_id is None:
            return "—"
        return format_html('<a href="{}">#{}</a>', reverse("admin:pooling_transfer_change", args=[obj.reverses_id]), obj.reverses_id)

    @admin.display(description=_("reversed by"))
    def reversals_shown(self, obj: Transfer) -> str:
        links = [
            format_html('<a href="{}">#{} ({})</a>', reverse("admin:pooling_transfer_change", args=[r.pk]), r.pk, r.get_state_display())
            for r in obj.reversals.order_by("pk")
        ]
        return format_html_join(", ", "{}", ((link,) for link in links)) if links else "—"

    @admin.display(description=_("debit account can still pay"))
    def debit_available(self, obj: Transfer) -> str:
        available = selectors.account_available_fen(account=obj.from_account)
        return gettext("no limit (external account)") if available is None else format_yuan(available)

    def get_fields(self, request: HttpRequest, obj: Transfer | None = None) -> Any:
        return TRANSFER_DETAIL_FIELDS if obj is not None else ["from_account", "to_account", "amount_fen", "memo", "confirm_large"]

    def get_readonly_fields(self, request: HttpRequest, obj: Transfer | None = None) -> Any:
        return TRANSFER_DETAIL_FIELDS if obj is not None else []

    def get_form(self, request: HttpRequest, obj: Transfer | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = type("TransferProposeFormFor", (TransferProposeForm,), {"user": request.user})
            kwargs["fields"] = ["from_account", "to_account", "amount_fen", "memo", "confirm_large"]
        return super().get_form(request, obj, change=change, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Transfer | None = None) -> bool:
        # A transfer's fields never change by hand: its page is read-only, its buttons run the workflow.
        return obj is None and super().has_change_permission(request, obj)

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
            messages.error(request, error_message(exc), extra_tags=error_tags(exc))
            return HttpResponseRedirect(request.get_full_path())

    def response_add(self, request: HttpRequest, obj: Transfer, post_url_continue: str | None = None) -> HttpResponse:
        """After a proposal, its own page (where its timeline starts and a checker will approve it)."""
        messages.success(
            request, gettext("Transfer %(transfer)s proposed; a checker approves it on this page.") % {"transfer": f"#{obj.pk}"}
        )
        return HttpResponseRedirect(reverse("admin:pooling_transfer_change", args=[obj.pk]))

    def detail_summary(self, request: HttpRequest, obj: Transfer) -> list[tuple[Any, Any]]:
        return [
            (_("transfer"), f"#{obj.pk}"),
            (_("state"), obj.get_state_display()),
            (_("debit account (pays)"), obj.from_account),
            (_("credit account (receives)"), obj.to_account),
            (_("amount"), format_yuan(obj.amount_fen)),
            (_("memo"), memo_label(obj.memo) or "—"),
            (_("proposed by"), obj.proposed_by),
            (_("debit account can still pay"), self.debit_available(obj)),
        ]

    def detail_actions(self, request: HttpRequest, obj: Transfer) -> list[Action]:
        user = request.user
        offered = {
            "approve": Action(
                "approve",
                _("Approve and post"),
                lambda reason: services.transfer_approve(transfer=obj, approver=user, reason=reason),
                reason=OPTIONAL,
                explain=_("Both ledger entries are written now; a posted transfer is undone only by a reversing transfer."),
                done=_("approved and posted"),
            ),
            "reject": Action(
                "reject",
                _("Reject"),
                lambda reason: services.transfer_reject(transfer=obj, user=user, reason=reason),
                reason=REQUIRED,
                danger=True,
                explain=_("The proposal ends here; the proposer reads your reason."),
                done=_("rejected"),
            ),
            "void": Action(
                "void",
                _("Void"),
                lambda reason: services.transfer_void(transfer=obj, user=user, reason=reason),
                reason=REQUIRED,
                danger=True,
                explain=_("The proposal is cancelled before it is posted."),
                done=_("voided"),
            ),
            "reverse": Action(
                "reverse",
                _("Propose a reversal"),
                lambda reason: services.transfer_reverse(transfer=obj, user=user, reason=reason),
                reason=REQUIRED,
                explain=_("A transfer of the same amount in the other direction is proposed; a checker approves it."),
                done=_("reversal proposed"),
            ),
        }
        return [offered[name] for name in services.transfer_actions_for(transfer=obj, user=user)]


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

    @admin.display(description=_("amount"), ordering="amount_fen")
    def amount(self, obj: LedgerEntry) -> str:
        return format_yuan(obj.amount_fen)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: LedgerEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: LedgerEntry | None = None) -> bool:
        return False


@admin.register(RegionPeriodFigures)
class RegionPeriodFiguresAdmin(AddThroughServiceMixin, MoneyReadersAdmin, PortalHistoryAdmin):
    list_display = [
        "period",
        "province",
        "region",
        "fund_income",
        "fund_expenditure",
        "cross_regional",
        "active_insured",
        "retirees",
        "entered_by",
    ]
    list_filter = ["period", "province"]
    list_select_related = ["province", "region", "entered_by"]
    fields = [
        "province",
        "region",
        "period",
        "fund_income_fen",
        "fund_expenditure_fen",
        "cross_regional_fen",
        "active_insured",
        "retirees",
        "entered_by",
    ]
    readonly_fields = ["entered_by"]
    province_fields = ("province__code",)
    change_list_template = "admin/pooling/regionperiodfigures/change_list.html"

    @admin.display(description=_("fund income"), ordering="fund_income_fen")
    def fund_income(self, obj: RegionPeriodFigures) -> str:
        return format_yuan(obj.fund_income_fen)

    @admin.display(description=_("fund expenditure"), ordering="fund_expenditure_fen")
    def fund_expenditure(self, obj: RegionPeriodFigures) -> str:
        return format_yuan(obj.fund_expenditure_fen)

    @admin.display(description=_("of which cross-regional"), ordering="cross_regional_fen")
    def cross_regional(self, obj: RegionPeriodFigures) -> str:
        return format_yuan(obj.cross_regional_fen)

    def save_model(self, request: HttpRequest, obj: RegionPeriodFigures, form: Any, change: bool) -> None:
        saved = services.region_figures_put(
            region=obj.region,
            province=obj.province,
            period=obj.period,
            fund_income_fen=obj.fund_income_fen,
            fund_expenditure_fen=obj.fund_expenditure_fen,
            cross_regional_fen=obj.cross_regional_fen,
            active_insured=obj.active_insured,
            retirees=obj.retirees,
            user=request.user,
        )
        obj.pk = saved.pk

    def get_urls(self) -> list[Any]:
        return [path("import/", self.admin_site.admin_view(self.import_view), name="pooling_figures_import"), *super().get_urls()]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a figures CSV: queues the import job and opens its progress page."""
        if request.method == "POST":
            try:
                upload = request.FILES.get("file")
                if upload is None:
                    raise DomainError(gettext("choose a file to upload"))
                job = services.figures_import_enqueue(upload=upload, user=request.user)
            except DomainError as exc:
                messages.error(request, error_message(exc), extra_tags=error_tags(exc))
                return redirect(request.path)
            return redirect("staff:job", pk=job.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import region figures"),
            "columns": [*services.FIGURES_COLUMNS, *services.FIGURES_OPTIONAL],
        }
        return TemplateResponse(request, "admin/pooling/regionperiodfigures/import.html", context)


@admin.register(AdjustmentRule)
class AdjustmentRuleAdmin(AddThroughServiceMixin, MoneyReadersAdmin, PortalHistoryAdmin):
    """Rules of the province (and, read-only to province-bound users, the national rule)."""

    list_display = [
        "scope",
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
    national_rows_field = "province"

    @admin.display(description=_("scope"), ordering="province__code")
    def scope(self, obj: AdjustmentRule) -> str:
        return str(obj.province) if obj.province is not None else gettext("national adjustment fund")

    def has_change_permission(self, request: HttpRequest, obj: AdjustmentRule | None = None) -> bool:
        # The national rule is the national finance users' (a province-bound user reads it).
        if obj is not None and obj.province_id is None and scoped_province(request):
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: AdjustmentRule, form: Any, change: bool) -> None:
        services.adjustment_rule_save(rule=obj, user=request.user, reason=request.POST.get("_change_reason", "") or "saved in admin")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().change_view(request, object_id, form_url, extra_context)
        except DomainError as exc:  # e.g. rule_in_use: said on the page, nothing saved
            messages.error(request, error_message(exc), extra_tags=error_tags(exc))
            return HttpResponseRedirect(request.get_full_path())

    def has_delete_permission(self, request: HttpRequest, obj: AdjustmentRule | None = None) -> bool:
        return False  # runs refer to the rule they used


@admin.register(AdjustmentRun)
class AdjustmentRunAdmin(MoneyReadersAdmin, PortalHistoryAdmin):
    """Runs are written by the service only; the page shows the formula, the inputs and results."""

    list_display = ["id", "period", "scope", "state", "contributions", "pot", "allocations", "transfer_count", "created_at"]
    list_filter = ["level", "state", "period", "province"]
    list_select_related = ["province"]
    province_fields = ("province__code",)
    national_rows_field = "province"
    read_only = True
    change_list_template = "admin/pooling/adjustmentrun/change_list.html"
    change_form_template = "admin/pooling/adjustmentrun/change_form.html"
    RUN_FIELDS = (
        "level",
        "province",
        "period",
        "state",
        "rule",
        "parameters",
        "contributions",
        "pot",
        "allocations",
        "job",
        "created_at",
    )
    fields = RUN_FIELDS
    readonly_fields = RUN_FIELDS

    @admin.display(description=_("scope"))
    def scope(self, obj: AdjustmentRun) -> str:
        return str(obj.province) if obj.province is not None else gettext("national adjustment fund")

    @admin.display(description=_("contributions"), ordering="contributions_fen")
    def contributions(self, obj: AdjustmentRun) -> str:
        return format_yuan(obj.contributions_fen)

    @admin.display(description=_("pot"), ordering="pot_fen")
    def pot(self, obj: AdjustmentRun) -> str:
        return format_yuan(obj.pot_fen)

    @admin.display(description=_("allocations"), ordering="allocations_fen")
    def allocations(self, obj: AdjustmentRun) -> str:
        return format_yuan(obj.allocations_fen)

    @admin.display(description=_("transfers"))
    def transfer_count(self, obj: AdjustmentRun) -> int:
        return len(obj.transfer_ids)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AdjustmentRun | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AdjustmentRun | None = None) -> bool:
        return False

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        run = selectors.adjustment_runs_visible_to(user=request.user).filter(pk=object_id).first() if object_id.isdigit() else None
        extra = {"run": run, "run_rows": selectors.adjustment_run_rows_for(run=run, user=request.user) if run else []}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def get_urls(self) -> list[Any]:
        return [path("run/", self.admin_site.admin_view(self.run_view), name="pooling_adjustment_run"), *super().get_urls()]

    def run_view(self, request: HttpRequest) -> HttpResponse:
        """Start a run: a month and a province (or the national level); opens the job's page."""
        own = scoped_province(request)
        if request.method == "POST":
            try:
                job = services.adjustment_request(
                    period=request.POST.get("period", ""), province_code=request.POST.get("province", ""), user=request.user
                )
            except DomainError as exc:
                messages.error(request, error_message(exc), extra_tags=error_tags(exc))
                return redirect(request.path)
            return redirect("staff:job", pk=job.pk)
        provinces = Province.objects.filter(pooling_model=Province.PoolingModel.ADJUSTMENT_FUND).order_by("code")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Run risk adjustment"),
            "provinces": provinces.filter(code=own) if own else provinces,
            "national": not own,
            "period": services.previous_period(timezone.localdate()),
        }
        return TemplateResponse(request, "admin/pooling/adjustmentrun/run.html", context)


@admin.register(AdvanceFundPolicy)
class AdvanceFundPolicyAdmin(AddThroughServiceMixin, MoneyReadersAdmin, PortalHistoryAdmin):
    list_display = ["province", "threshold", "target", "updated_by"]
    list_select_related = ["province", "updated_by"]
    fields = ["province", "threshold_fen", "target_fen", "updated_by"]
    readonly_fields = ["updated_by"]
    province_fields = ("province__code",)

    @admin.display(description=_("threshold"), ordering="threshold_fen")
    def threshold(self, obj: AdvanceFundPolicy) -> str:
        return format_yuan(obj.threshold_fen)

    @admin.display(description=_("target"), ordering="target_fen")
    def target(self, obj: AdvanceFundPolicy) -> str:
        return format_yuan(obj.target_fen)

    def get_readonly_fields(self, request: HttpRequest, obj: AdvanceFundPolicy | None = None) -> Any:
        return ["province", "updated_by"] if obj is not None else ["updated_by"]

    def save_model(self, request: HttpRequest, obj: AdvanceFundPolicy, form: Any, change: bool) -> None:
        saved = services.advance_policy_set(
            province=obj.province,
            threshold_fen=obj.threshold_fen,
            target_fen=obj.target_fen,
            user=request.user,
            reason=request.POST.get("_change_reason", "") or "set in admin",
        )
        obj.pk = saved.pk

    def has_delete_permission(self, request: HttpRequest, obj: AdvanceFundPolicy | None = None) -> bool:
        return False


@admin.register(ClearingResult)
class ClearingResultAdmin(MoneyReadersAdmin, PortalHistoryAdmin):
    """What each monthly clearing settled per province (written by pooling on the clearing's signal)."""

    list_display = ["period", "province", "payable", "receivable", "claims", "source_shown", "recorded_at"]

    @admin.display(description=_("source"), ordering="source")
    def source_shown(self, obj: ClearingResult) -> str:
        return reason_label(obj.source)

    list_filter = ["period", "province"]
    list_select_related = ["province"]
    province_fields = ("province__code",)
    read_only = True

    @admin.display(description=_("payable (its insured elsewhere)"), ordering="payable_fen")
    def payable(self, obj: ClearingResult) -> str:
        return format_yuan(obj.payable_fen)

    @admin.display(description=_("receivable (others treated here)"), ordering="receivable_fen")
    def receivable(self, obj: ClearingResult) -> str:
        return format_yuan(obj.receivable_fen)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ClearingResult | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ClearingResult | None = None) -> bool:
        return False


@admin.register(PoolingBudget)
class PoolingBudgetAdmin(AddThroughServiceMixin, MoneyReadersAdmin, PortalHistoryAdmin):
    list_display = ["year", "province", "region", "expenditure", "cross_regional", "alert_ratio", "alerted_at", "chart_link"]
    list_filter = ["year", "province"]
    list_select_related = ["province", "region"]
    fields = ["year", "province", "region", "expenditure_fen", "cross_regional_fen", "alert_ratio", "alerted_at", "updated_by"]
    readonly_fields = ["alerted_at", "updated_by"]
    province_fields = ("province__code",)

    @admin.display(description=_("expenditure"), ordering="expenditure_fen")
    def expenditure(self, obj: PoolingBudget) -> str:
        return format_yuan(obj.expenditure_fen)

    @admin.display(description=_("of which cross-regional"), ordering="cross_regional_fen")
    def cross_regional(self, obj: PoolingBudget) -> str:
        return format_yuan(obj.cross_regional_fen)

    @admin.display(description=_("budget against actual"))
    def chart_link(self, obj: PoolingBudget) -> str:
        url = reverse("admin:pooling_overview")
        return format_html('<a href="{}?year={}&amp;budget={}#budget">{}</a>', url, obj.year, obj.pk, gettext("chart"))

    def get_readonly_fields(self, request: HttpRequest, obj: PoolingBudget | None = None) -> Any:
        return ["year", "province", "region", "alerted_at", "updated_by"] if obj is not None else ["alerted_at", "updated_by"]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        from django.conf import settings

        return {"alert_ratio": settings.POOLING_BUDGET_ALERT_RATIO, "year": timezone.localdate().year}

    def save_model(self, request: HttpRequest, obj: PoolingBudget, form: Any, change: bool) -> None:
        saved = services.budget_save(
            province=obj.province,
            region=obj.region,
            year=obj.year,
            expenditure_fen=obj.expenditure_fen,
            cross_regional_fen=obj.cross_regional_fen,
            alert_ratio=obj.alert_ratio,
            user=request.user,
            reason=request.POST.get("_change_reason", "") or "set in admin",
        )
        obj.pk = saved.pk

    def has_delete_permission(self, request: HttpRequest, obj: PoolingBudget | None = None) -> bool:
        return False


@admin.register(PoolingModelChange)
class PoolingModelChangeAdmin(AddThroughServiceMixin, MoneyReadersAdmin, PortalHistoryAdmin):
    """Add = propose the move of a province to unified collection and expenditure (the
    consolidation transfers); the action completes it (a second person, a finance checker)."""

    list_display = ["id", "province", "to_model", "state", "proposed_by", "completed_by", "transfer_count", "created_at"]
    list_filter = ["state", "province"]
    list_select_related = ["province", "proposed_by", "completed_by"]
    fields = ["province", "reason"]
    province_fields = ("province__code",)
    actions = ["complete", "propose_again"]

    @admin.display(description=_("consolidation transfers"))
    def transfer_count(self, obj: PoolingModelChange) -> int:
        return len(obj.transfer_ids)

    def get_readonly_fields(self, request: HttpRequest, obj: PoolingModelChange | None = None) -> Any:
        if obj is not None:
            return ["province", "to_model", "state", "reason", "proposed_by", "completed_by", "transfer_ids", "created_at", "completed_at"]
        return []

    def get_fields(self, request: HttpRequest, obj: PoolingModelChange | None = None) -> Any:
        return self.get_readonly_fields(request, obj) if obj is not None else ["province", "reason"]

    def save_model(self, request: HttpRequest, obj: PoolingModelChange, form: Any, change: bool) -> None:
        if change:
            return  # the workflow actions change it
        created = services.unification_propose(province=obj.province, user=request.user, reason=obj.reason)
        obj.pk = created.pk

    def has_delete_permission(self, request: HttpRequest, obj: PoolingModelChange | None = None) -> bool:
        return False

    @admin.action(description=_("Complete (finance checker, not the proposer)"))
    def complete(self, request: HttpRequest, queryset: QuerySet[PoolingModelChange]) -> None:
        for change in queryset:
            self.run_service(
                request, str(change), lambda c=change: services.unification_complete(change=c, user=request.user), gettext("completed")
            )

    @admin.action(description=_("Propose the consolidation of what is left"))
    def propose_again(self, request: HttpRequest, queryset: QuerySet[PoolingModelChange]) -> None:
        for change in queryset:
            self.run_service(
                request,
                str(change),
                lambda c=change: services.unification_propose(province=c.province, user=request.user, reason=c.reason),
                gettext("proposed"),
            )
