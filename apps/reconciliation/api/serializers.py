from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.api.fields import TextField
from apps.reconciliation.models import Discrepancy, ReconciliationRun, SettlementBatch, Side


class RunRequestSerializer(serializers.Serializer[Any]):
    period = serializers.RegexField(r"^[0-9]{4}-(0[1-9]|1[0-2])$")


class SettlementImportSerializer(serializers.Serializer[Any]):
    file = serializers.FileField()
    side = serializers.ChoiceField(choices=Side.values)
    period = serializers.RegexField(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
    replaces = serializers.IntegerField(
        required=False, min_value=1, help_text="An active batch of the same period, side and province that this file corrects."
    )


class BatchSerializer(serializers.ModelSerializer[SettlementBatch]):
    class Meta:
        model = SettlementBatch
        fields = [
            "id",
            "period",
            "side",
            "province",
            "rows",
            "state",
            "replaces",
            "filename",
            "imported_at",
            "withdrawn_at",
            "withdrawn_reason",
        ]
        read_only_fields = fields


class StepReasonSerializer(serializers.Serializer[Any]):
    reason = TextField(max_length=2000)


class OptionalReasonSerializer(serializers.Serializer[Any]):
    reason = TextField(max_length=2000, required=False, allow_blank=True, default="")


class ResolveSerializer(serializers.Serializer[Any]):
    resolution = serializers.ChoiceField(choices=Discrepancy.Resolution.values)
    amount_fen = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="agreed_amount only: the fund share the home province pays."
    )
    reason = TextField(max_length=2000)


class DiscrepancySerializer(serializers.ModelSerializer[Discrepancy]):
    home_fen = serializers.IntegerField(source="home_fund_fen", allow_null=True, help_text="The claim's fund share on the home side.")
    destination_fen = serializers.IntegerField(source="destination_fund_fen", allow_null=True, help_text="… on the destination side.")

    class Meta:
        model = Discrepancy
        fields = [
            "id",
            "kind",
            "settlement_id",
            "home_province",
            "destination_province",
            "hospital_code",
            "setting",
            "drg_group",
            "home_fen",
            "destination_fen",
            "state",
            "side",
            "field",
            "home_value",
            "destination_value",
            "delta_fen",
            "expected",
            "resolution",
            "amount_fen",
            "reason",
            "period",
            "run",
            "netted_in_run",
        ]
        read_only_fields = fields


class ComplianceRowSerializer(serializers.Serializer[Any]):
    destination_province = serializers.CharField()
    hospital_code = serializers.CharField()
    release_not_in_force = serializers.IntegerField(help_text="Destination-side claims coded against a release not in force.")
    lapsed_local_items = serializers.IntegerField(help_text="Claims billing a transitional local item on or after its sunset.")
    amount_mismatches = serializers.IntegerField(help_text="Claims whose amounts differ between the two sides.")
    mismatch_fen = serializers.IntegerField(help_text="Sum of |destination − home| fund share over those claims.")
    claims = serializers.IntegerField(help_text="Claims with any discrepancy.")
    period = serializers.CharField()


class RunSerializer(serializers.ModelSerializer[ReconciliationRun]):
    """A run as its reader may see it: ``context["summary"]`` is ``selectors.run_summary_for``'s
    answer (a province-bound reader's pairs, net position and transfers only)."""

    counts = serializers.SerializerMethodField()
    net_positions = serializers.SerializerMethodField()
    totals = serializers.SerializerMethodField()
    transfer_ids = serializers.SerializerMethodField()
    adjustments = serializers.SerializerMethodField(
        help_text="Resolved discrepancies netted in this run: {discrepancy, period, settlement_id, kind, home, destination, resolution, amount_fen}."
    )
    already_settled = serializers.SerializerMethodField(
        help_text="Claims that match in this run but were settled earlier by a decision on a discrepancy (resolved or written off):"
        " not netted again. {discrepancy, period, settlement_id, home, destination, state, resolution, amount_fen, matched_fund_fen}."
    )

    class Meta:
        model = ReconciliationRun
        fields = [
            "id",
            "period",
            "state",
            "counts",
            "totals",
            "net_positions",
            "transfer_ids",
            "adjustments",
            "already_settled",
            "job",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_adjustments(self, run: ReconciliationRun) -> list[dict[str, Any]]:
        return list(self.context["summary"].get("adjustments", []))

    def get_already_settled(self, run: ReconciliationRun) -> list[dict[str, Any]]:
        return list(self.context["summary"].get("already_settled", []))

    def get_counts(self, run: ReconciliationRun) -> dict[str, int]:
        return dict(self.context["summary"].get("counts", {}))

    def get_net_positions(self, run: ReconciliationRun) -> dict[str, int]:
        return dict(self.context["summary"].get("net_positions", {}))

    def get_totals(self, run: ReconciliationRun) -> dict[str, Any]:
        return dict(self.context["summary"].get("totals", {}))

    def get_transfer_ids(self, run: ReconciliationRun) -> list[int]:
        return list(self.context["summary"].get("transfer_ids", []))
