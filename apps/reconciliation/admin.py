"""Admin: batches and runs are read-only records; runs are started on demand by an action."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from apps.core.errors import DomainError

from . import services
from .models import Discrepancy, ReconciliationRun, SettlementBatch


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SettlementBatch)
class SettlementBatchAdmin(SimpleHistoryAdmin, ReadOnly):  # type: ignore[misc]
    list_display = ["id", "period", "side", "rows", "filename", "imported_by", "imported_at"]
    list_filter = ["side", "period"]


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(SimpleHistoryAdmin, ReadOnly):  # type: ignore[misc]
    list_display = ["id", "period", "state", "created_at", "finished_at", "started_by"]
    list_filter = ["state", "period"]
    readonly_fields = ["period", "state", "inputs", "job", "summary", "transfer_ids", "started_by", "created_at", "finished_at"]
    actions = ["run_again"]

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
class DiscrepancyAdmin(ReadOnly):
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
