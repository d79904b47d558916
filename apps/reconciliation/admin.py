"""Admin: batches, records, runs and discrepancies are read-only records for the money allow-list;
runs are started on demand by an action (national finance users only). Runs are national and
shown to a province-bound reader cut down to her province (``selectors.run_summary_for``);
batches are hers when a user of her province imported them; records and discrepancies are
scoped to the provinces on either side."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.core.admin import MoneyReadersAdmin, PortalAdmin, PortalHistoryAdmin, scoped_province
from apps.core.errors import DomainError
from apps.core.reasons import error_message, error_tags

from . import selectors, services
from .models import Discrepancy, ReconciliationRun, SettlementBatch, SettlementRecord

EITHER_SIDE = ("home_province", "destination_province")


@admin.register(SettlementBatch)
class SettlementBatchAdmin(MoneyReadersAdmin, PortalHistoryAdmin):
    list_display = ["id", "period", "side", "rows", "filename", "imported_by", "imported_at"]
    list_filter = ["side", "period"]
    list_select_related = ["imported_by"]
    read_only = True
    # A batch is the province's its importer acts for; national imports are nobody's province.
    province_fields = ("imported_by__staff_profile__province_code",)


@admin.register(SettlementRecord)
class SettlementRecordAdmin(MoneyReadersAdmin, PortalAdmin):
    list_display = ["settlement_id", "period", "side", "home_province", "destination_province", "hospital_code", "total_fen", "fund_fen"]
    list_filter = ["side", "period", "home_province", "destination_province"]
    search_fields = ["=settlement_id", "=hospital_code"]
    show_full_result_count = False
    province_fields = EITHER_SIDE
    read_only = True


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(MoneyReadersAdmin, PortalHistoryAdmin):
    list_display = ["id", "period", "state", "created_at", "finished_at", "started_by", "report"]
    list_filter = ["state", "period"]
    fields = ["period", "state", "inputs", "job", "summary_shown", "started_by", "created_at", "finished_at", "report"]
    readonly_fields = ["period", "state", "inputs", "job", "summary_shown", "started_by", "created_at", "finished_at", "report"]
    list_select_related = ["started_by"]
    read_only = True
    actions = ["run_again"]

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> ReconciliationRun | None:
        run = super().get_object(request, object_id, from_field)
        if run is not None:  # what this reader may see of it, never the raw summary
            run.shown = selectors.run_summary_for(run=run, province=scoped_province(request))  # type: ignore[attr-defined]
        return run

    @admin.display(description=_("summary"))
    def summary_shown(self, obj: ReconciliationRun) -> Any:
        return getattr(obj, "shown", "—")

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None) -> Any:
        # Historical rows carry the whole national summary: for national readers only.
        if scoped_province(request):
            raise PermissionDenied("a run's history holds every province's figures")
        return super().history_view(request, object_id, extra_context)

    @admin.display(description=_("report"))
    def report(self, obj: ReconciliationRun) -> str:
        return format_html('<a href="{}">report</a>', reverse("reconciliation:run-report", args=[obj.pk]))

    @admin.action(description=_("Run these periods again (queued job)"))
    def run_again(self, request: HttpRequest, queryset: QuerySet[ReconciliationRun]) -> None:
        for period in sorted(set(queryset.values_list("period", flat=True))):
            try:
                job = services.reconciliation_request(period=period, user=request.user)
            except DomainError as exc:
                self.message_user(request, error_message(exc, subject=period), messages.ERROR, extra_tags=error_tags(exc))
            else:
                self.message_user(request, _("%(period)s: queued as job #%(job)s") % {"period": period, "job": job.pk})


@admin.register(Discrepancy)
class DiscrepancyAdmin(MoneyReadersAdmin, PortalAdmin):
    list_display = [
        "run",
        "kind",
        "settlement_id",
        "side",
        "field",
        "home_province",
        "destination_province",
        "home_value",
        "destination_value",
        "delta_fen",
        "expected",
    ]
    list_filter = ["kind", "home_province", "destination_province"]
    search_fields = ["settlement_id"]
    list_select_related = ["run"]
    province_fields = EITHER_SIDE
    read_only = True
