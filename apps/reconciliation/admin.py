"""Admin: batches, records, runs and discrepancies are read-only records; runs are started on
demand by an action. Batches and runs are national (one file or run covers every province pair);
records and discrepancies are scoped to the provinces on either side."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from apps.core.admin import PortalAdmin, PortalHistoryAdmin
from apps.core.errors import DomainError

from . import services
from .models import Discrepancy, ReconciliationRun, SettlementBatch, SettlementRecord

EITHER_SIDE = ("home_province", "destination_province")


@admin.register(SettlementBatch)
class SettlementBatchAdmin(PortalHistoryAdmin):
    list_display = ["id", "period", "side", "rows", "filename", "imported_by", "imported_at"]
    list_filter = ["side", "period"]
    list_select_related = ["imported_by"]
    read_only = True


@admin.register(SettlementRecord)
class SettlementRecordAdmin(PortalAdmin):
    list_display = ["settlement_id", "period", "side", "home_province", "destination_province", "hospital_code", "total_fen", "fund_fen"]
    list_filter = ["side", "period", "home_province", "destination_province"]
    search_fields = ["=settlement_id", "=hospital_code"]
    show_full_result_count = False
    province_fields = EITHER_SIDE
    read_only = True


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(PortalHistoryAdmin):
    list_display = ["id", "period", "state", "created_at", "finished_at", "started_by", "report"]
    list_filter = ["state", "period"]
    readonly_fields = ["period", "state", "inputs", "job", "summary", "transfer_ids", "started_by", "created_at", "finished_at"]
    list_select_related = ["started_by"]
    read_only = True
    actions = ["run_again"]

    @admin.display(description="report")
    def report(self, obj: ReconciliationRun) -> str:
        return format_html('<a href="{}">report</a>', reverse("reconciliation:run-report", args=[obj.pk]))

    @admin.action(description="Run these periods again (queued job)")
    def run_again(self, request: HttpRequest, queryset: QuerySet[ReconciliationRun]) -> None:
        for period in sorted(set(queryset.values_list("period", flat=True))):
            try:
                job = services.reconciliation_request(period=period, user=request.user)
            except DomainError as exc:
                self.message_user(request, f"{period}: {exc.detail}", messages.ERROR)
            else:
                self.message_user(request, f"{period}: queued as job #{job.pk}")


@admin.register(Discrepancy)
class DiscrepancyAdmin(PortalAdmin):
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
