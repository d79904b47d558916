from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.reconciliation.models import ReconciliationRun, Side


class RunRequestSerializer(serializers.Serializer[Any]):
    period = serializers.RegexField(r"^[0-9]{4}-(0[1-9]|1[0-2])$")


class SettlementImportSerializer(serializers.Serializer[Any]):
    file = serializers.FileField()
    side = serializers.ChoiceField(choices=Side.values)
    period = serializers.RegexField(r"^[0-9]{4}-(0[1-9]|1[0-2])$")


class RunSerializer(serializers.ModelSerializer[ReconciliationRun]):
    """A run as its reader may see it: ``context["summary"]`` is ``selectors.run_summary_for``'s
    answer (a province-bound reader's pairs, net position and transfers only)."""

    counts = serializers.SerializerMethodField()
    net_positions = serializers.SerializerMethodField()
    totals = serializers.SerializerMethodField()
    transfer_ids = serializers.SerializerMethodField()

    class Meta:
        model = ReconciliationRun
        fields = ["id", "period", "state", "counts", "totals", "net_positions", "transfer_ids", "job", "created_at", "finished_at"]
        read_only_fields = fields

    def get_counts(self, run: ReconciliationRun) -> dict[str, int]:
        return dict(self.context["summary"].get("counts", {}))

    def get_net_positions(self, run: ReconciliationRun) -> dict[str, int]:
        return dict(self.context["summary"].get("net_positions", {}))

    def get_totals(self, run: ReconciliationRun) -> dict[str, Any]:
        return dict(self.context["summary"].get("totals", {}))

    def get_transfer_ids(self, run: ReconciliationRun) -> list[int]:
        return list(self.context["summary"].get("transfer_ids", []))
