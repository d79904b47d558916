"""Admin: batches, records, runs and discrepancies are read-only records for the money allow-list;
runs are started on demand by an action (national finance users only). Runs are national and
shown to a province-bound reader cut down to her province (``selectors.run_summary_for``);
batches are hers when a user of her province imported them; records and discrepancies are
scoped to the provinces on either side."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from apps.core.admin import MoneyReadersAdmin, PortalAdmin, PortalHistoryAdmin, is_auditor, scoped_province
from apps.core.errors import DomainError, ValidationFailed
from apps.core.forms import yuan_label
from apps.core.money import MoneyError, format_yuan, yuan_to_fen
from apps.core.reasons import error_message, error_tags

from . import selectors, services
from .models import Discrepancy, ReconciliationRun, SettlementBatch, SettlementRecord, Side

EITHER_SIDE = ("home_province", "destination_province")


@admin.register(SettlementBatch)
class SettlementBatchAdmin(MoneyReadersAdmin, PortalHistoryAdmin):
    list_display = ["id", "period", "side", "province", "state", "rows", "replaces", "filename", "imported_by", "imported_at"]
    list_filter = ["state", "side", "period", "province"]
    list_select_related = ["imported_by"]
    read_only = True
    # A batch is the province's whose rows it holds (its side's province).
    province_fields = ("province",)


@admin.register(SettlementRecord)
class SettlementRecordAdmin(MoneyReadersAdmin, PortalAdmin):
    list_display = ["settlement_id", "period", "side", "home_province", "destination_province", "hospital_code", "total", "fund"]
    list_filter = ["side", "period", "home_province", "destination_province"]
    search_fields = ["=settlement_id", "=hospital_code"]
    show_full_result_count = False
    province_fields = EITHER_SIDE
    read_only = True

    @admin.display(description=_("total amount"), ordering="total_fen")
    def total(self, obj: SettlementRecord) -> str:
        return format_yuan(obj.total_fen)

    @admin.display(description=_("fund share"), ordering="fund_fen")
    def fund(self, obj: SettlementRecord) -> str:
        return format_yuan(obj.fund_fen)


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(MoneyReadersAdmin, PortalHistoryAdmin):
    list_display = ["id", "period", "state", "created_at", "finished_at", "started_by", "report"]
    list_filter = ["state", "period"]
    fields = ["period", "state", "inputs", "job", "summary_shown", "started_by", "created_at", "finished_at", "report", "statements"]
    readonly_fields = [
        "period",
        "state",
        "inputs",
        "job",
        "summary_shown",
        "started_by",
        "created_at",
        "finished_at",
        "report",
        "statements",
    ]
    list_select_related = ["started_by"]
    read_only = True
    actions = ["run_again"]

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> ReconciliationRun | None:
        run = super().get_object(request, object_id, from_field)
        if run is not None:  # what this reader may see of it, never the raw summary
            province = scoped_province(request)
            run.shown = selectors.run_summary_for(run=run, province=province)  # type: ignore[attr-defined]
            # one clearing statement per province of the run; a province-bound reader's own only
            codes = sorted(run.summary.get("net_positions", {})) if run.summary else []
            run.statement_provinces = [c for c in codes if not province or c == province]  # type: ignore[attr-defined]
        return run

    @admin.display(description=_("summary"))
    def summary_shown(self, obj: ReconciliationRun) -> Any:
        return getattr(obj, "shown", "—")

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None) -> Any:
        # Historical rows carry the whole national summary: for national readers only.
        if scoped_province(request):
            raise PermissionDenied(_("a run's history holds every province's figures"))
        return super().history_view(request, object_id, extra_context)

    @admin.display(description=_("report"))
    def report(self, obj: ReconciliationRun) -> str:
        return format_html('<a href="{}">{}</a>', reverse("reconciliation:run-report", args=[obj.pk]), _("report"))

    @admin.display(description=_("clearing statements (PDF)"))
    def statements(self, obj: ReconciliationRun) -> str:
        codes = getattr(obj, "statement_provinces", [])
        if not codes:
            return "—"
        url = reverse("reconciliation-run-statement", args=[obj.pk])
        return format_html_join(" · ", '<a href="{}?province={}&amp;format=pdf">{}</a>', ((url, code, code) for code in codes))

    @admin.action(description=_("Run these periods again (queued job)"))
    def run_again(self, request: HttpRequest, queryset: QuerySet[ReconciliationRun]) -> None:
        for period in sorted(set(queryset.values_list("period", flat=True))):
            try:
                job = services.reconciliation_request(period=period, user=request.user)
            except DomainError as exc:
                self.message_user(request, error_message(exc, subject=period), messages.ERROR, extra_tags=error_tags(exc))
            else:
                self.message_user(request, _("%(period)s: queued as job #%(job)s") % {"period": period, "job": job.pk})


ACTIONS = {
    "dispute": _("Dispute"),
    "resolve": _("Propose a resolution"),
    "approve": _("Approve the resolution"),
}


class DiscrepancyActionForm(forms.Form):
    """The confirmation step of a lifecycle action: a reason is always required; a resolution
    names its kind and, for an agreed amount, the amount in yuan (¥1,234.56)."""

    resolution = forms.ChoiceField(label=_("resolution"), choices=Discrepancy.Resolution.choices, required=False)
    amount_yuan = forms.CharField(label=_("agreed amount (yuan)"), required=False, max_length=32)
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
    confirm = forms.BooleanField(label=_("I confirm this step"), required=True)

    def amount_fen(self) -> int | None:
        raw = str(self.cleaned_data.get("amount_yuan") or "").replace("¥", "").strip()
        if not raw:
            return None
        try:
            return yuan_to_fen(raw)
        except MoneyError as exc:
            raise ValidationFailed(
                str(exc), errors=[{"field": "amount_yuan", "code": "money_format", "message": _("an amount in yuan, e.g. 1,234.56")}]
            ) from exc


def _field_label(obj: Discrepancy) -> str:
    """The settlement field a discrepancy is about, by its label (``fund_fen`` → 基金支付)."""
    if not obj.field:
        return ""
    try:
        label = str(getattr(SettlementRecord._meta.get_field(obj.field), "verbose_name", obj.field))
    except FieldDoesNotExist:
        return obj.field
    return yuan_label(label) if obj.field.endswith("_fen") else label  # its values are shown in yuan


def _value_shown(obj: Discrepancy, value: str | None) -> str:
    """A side's value of the field a discrepancy is about: money fields in yuan, others as filed."""
    text = value or ""
    return format_yuan(int(text)) if obj.field.endswith("_fen") and text.lstrip("-").isdigit() else text


@admin.register(Discrepancy)
class DiscrepancyAdmin(MoneyReadersAdmin, PortalHistoryAdmin):
    """Discrepancies with filters, and a detail page that shows the timeline (who, when, why) and
    offers the lifecycle actions this user may take now, each with a confirmation step and a reason."""

    list_display = [
        "id",
        "run",
        "kind",
        "state",
        "settlement_id",
        "home_province",
        "destination_province",
        "hospital_code",
        "home_fund_shown",
        "destination_fund_shown",
        "field_shown",
        "delta_shown",
    ]
    list_filter = ["state", "kind", "home_province", "destination_province", "setting", "period"]
    search_fields = ["=settlement_id", "=hospital_code"]
    list_select_related = ["run"]
    province_fields = EITHER_SIDE
    read_only = True

    @admin.display(description=_("home fund share"))
    def home_fund_shown(self, obj: Discrepancy) -> str:
        return "" if obj.home_fund_fen is None else format_yuan(obj.home_fund_fen)

    @admin.display(description=_("destination fund share"))
    def destination_fund_shown(self, obj: Discrepancy) -> str:
        return "" if obj.destination_fund_fen is None else format_yuan(obj.destination_fund_fen)

    @admin.display(description=_("field"), ordering="field")
    def field_shown(self, obj: Discrepancy) -> str:
        return _field_label(obj)

    @admin.display(description=_("difference"), ordering="delta_fen")
    def delta_shown(self, obj: Discrepancy) -> str:
        return "" if obj.delta_fen is None else format_yuan(obj.delta_fen)

    def get_urls(self) -> list[Any]:
        act = path(
            "<int:pk>/act/<str:action>/",
            self.admin_site.admin_view(self.act_view),
            name="reconciliation_discrepancy_act",
        )
        return [act, *super().get_urls()]

    def _scoped(self, request: HttpRequest, pk: Any) -> Discrepancy:
        obj = self.get_queryset(request).select_related("run", "proposed_by", "approved_by", "netted_in_run").filter(pk=pk).first()
        if obj is None:
            raise Http404("no such discrepancy for you")
        return obj

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        obj = self._scoped(request, unquote(object_id))
        allowed = [] if is_auditor(request) else services.discrepancy_allowed_actions(discrepancy=obj, user=request.user)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Discrepancy #%(id)s") % {"id": obj.pk},
            "d": obj,
            "field_label": _field_label(obj),
            "values_shown": [_value_shown(obj, value) for value in (obj.home_value, obj.destination_value)],
            "side_label": Side(obj.side).label if obj.side else "",
            "timeline": selectors.discrepancy_timeline(discrepancy=obj),
            "actions": [(name, ACTIONS[name], reverse("admin:reconciliation_discrepancy_act", args=[obj.pk, name])) for name in allowed],
            "run_url": reverse("reconciliation:run-report", args=[obj.run_id]),
            "netted_url": reverse("reconciliation:run-report", args=[obj.netted_in_run_id]) if obj.netted_in_run_id else "",
        }
        return TemplateResponse(request, "admin/reconciliation/discrepancy/detail.html", context)

    def act_view(self, request: HttpRequest, pk: int, action: str) -> Any:
        obj = self._scoped(request, pk)
        if action not in ACTIONS:
            raise Http404("no such action")
        detail_url = reverse("admin:reconciliation_discrepancy_change", args=[obj.pk])
        form = DiscrepancyActionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if action == "dispute":
                    services.discrepancy_dispute(discrepancy=obj, user=request.user, reason=data["reason"])
                elif action == "resolve":
                    services.discrepancy_resolve(
                        discrepancy=obj,
                        user=request.user,
                        resolution=data["resolution"],
                        amount_fen=form.amount_fen(),
                        reason=data["reason"],
                    )
                else:
                    services.discrepancy_approve(discrepancy=obj, user=request.user, reason=data["reason"])
            except DomainError as exc:
                self.message_user(request, error_message(exc), messages.ERROR, extra_tags=error_tags(exc))
            else:
                self.message_user(request, _("Done: %(step)s") % {"step": ACTIONS[action]}, messages.SUCCESS)
                return HttpResponseRedirect(detail_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": ACTIONS[action],
            "d": obj,
            "form": form,
            "action": action,
            "detail_url": detail_url,
        }
        return TemplateResponse(request, "admin/reconciliation/discrepancy/act.html", context)
