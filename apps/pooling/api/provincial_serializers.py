"""Serializers of the provincial-pooling endpoints (figures, risk-adjustment runs, advances,
budgets, pooling-model changes). Money is integer fen; ratios are decimal strings."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.api.fields import FenField, TextField
from apps.core.codes import province_code_pattern, region_code_pattern
from apps.pooling import selectors
from apps.pooling.models import AdjustmentRun, PoolingBudget, PoolingModelChange, RegionPeriodFigures

PERIOD = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
PROVINCE = province_code_pattern()  # a province that exists (GB/T 2260 prefixes, XPCC)


class FiguresSerializer(serializers.ModelSerializer[RegionPeriodFigures]):
    province = serializers.SlugRelatedField(slug_field="code", read_only=True)
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = RegionPeriodFigures
        fields = [
            "id",
            "province",
            "region",
            "period",
            "fund_income_fen",
            "fund_expenditure_fen",
            "cross_regional_fen",
            "active_insured",
            "retirees",
        ]
        read_only_fields = fields


class FiguresImportSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(
        help_text="CSV: region_code,period,fund_income_fen,fund_expenditure_fen,active_insured,retirees[,cross_regional_fen]"
    )


class AdjustmentRunRequestSerializer(serializers.Serializer[Any]):
    period = serializers.RegexField(PERIOD)
    province = serializers.RegexField(PROVINCE, required=False, allow_blank=True, default="", help_text="empty: the national level")


class AdjustmentRunSerializer(serializers.ModelSerializer[AdjustmentRun]):
    """A run as its reader may see it: a province-bound reader of a national run gets her own
    province's row (and its transfers) only."""

    province = serializers.SlugRelatedField(slug_field="code", read_only=True)
    started_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    rows = serializers.SerializerMethodField()
    transfer_ids = serializers.SerializerMethodField()

    class Meta:
        model = AdjustmentRun
        fields = [
            "id",
            "level",
            "province",
            "period",
            "state",
            "formula",
            "parameters",
            "contributions_fen",
            "pot_fen",
            "allocations_fen",
            "rows",
            "transfer_ids",
            "started_by",
            "job",
            "created_at",
        ]
        read_only_fields = fields

    def _rows(self, run: AdjustmentRun) -> list[dict[str, Any]]:
        return selectors.adjustment_run_rows_for(run=run, user=self.context["request"].user)

    def get_rows(self, run: AdjustmentRun) -> list[dict[str, Any]]:
        return self._rows(run)

    def get_transfer_ids(self, run: AdjustmentRun) -> list[int]:
        if len(self._rows(run)) == len(run.rows):
            return list(run.transfer_ids)
        return [row[k] for row in self._rows(run) for k in ("contribution_transfer", "allocation_transfer") if row.get(k)]


class AdvancePositionSerializer(serializers.Serializer[Any]):
    province = serializers.CharField()
    province_name = serializers.CharField()
    account = serializers.IntegerField()
    balance_fen = serializers.IntegerField()
    projected_fen = serializers.IntegerField(help_text="balance − debits waiting for approval + top-ups waiting")
    threshold_fen = serializers.IntegerField(allow_null=True)
    target_fen = serializers.IntegerField(allow_null=True)
    waiting_debits_fen = serializers.IntegerField()
    waiting_topups_fen = serializers.IntegerField()
    below_threshold = serializers.BooleanField()


class BudgetSerializer(serializers.ModelSerializer[PoolingBudget]):
    province = serializers.SlugRelatedField(slug_field="code", read_only=True)
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    actual_to_date_fen = serializers.SerializerMethodField()

    class Meta:
        model = PoolingBudget
        fields = [
            "id",
            "year",
            "province",
            "region",
            "expenditure_fen",
            "cross_regional_fen",
            "alert_ratio",
            "alerted_at",
            "actual_to_date_fen",
        ]
        read_only_fields = fields

    def get_actual_to_date_fen(self, budget: PoolingBudget) -> int:
        return selectors.budget_actual_fen(budget=budget)


class BudgetMonthSerializer(serializers.Serializer[Any]):
    month = serializers.CharField()
    budget_fen = serializers.IntegerField()
    actual_fen = serializers.IntegerField(allow_null=True)
    budget_to_date_fen = serializers.IntegerField()
    actual_to_date_fen = serializers.IntegerField()


class BudgetDetailSerializer(BudgetSerializer):
    months = serializers.SerializerMethodField()

    class Meta(BudgetSerializer.Meta):
        fields = [*BudgetSerializer.Meta.fields, "months"]
        read_only_fields = fields

    def get_months(self, budget: PoolingBudget) -> list[dict[str, Any]]:
        return selectors.budget_months(budget=budget)


class BudgetWriteSerializer(serializers.Serializer[Any]):
    year = serializers.IntegerField(min_value=2000, max_value=2100)
    province = serializers.RegexField(PROVINCE)
    region = serializers.RegexField(region_code_pattern(), required=False, allow_blank=True, default="")
    expenditure_fen = FenField(min_value=0, max_value=2**63 - 1)
    cross_regional_fen = FenField(min_value=0, max_value=2**63 - 1)
    alert_ratio = serializers.DecimalField(max_digits=5, decimal_places=4, min_value=0, max_value=5, required=False, allow_null=True)
    reason = TextField(max_length=2000, required=False, allow_blank=True, default="")


class UnificationSerializer(serializers.ModelSerializer[PoolingModelChange]):
    province = serializers.SlugRelatedField(slug_field="code", read_only=True)
    proposed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    completed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = PoolingModelChange
        fields = [
            "id",
            "province",
            "to_model",
            "state",
            "reason",
            "proposed_by",
            "completed_by",
            "transfer_ids",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields


class UnificationRequestSerializer(serializers.Serializer[Any]):
    province = serializers.RegexField(PROVINCE)
    reason = TextField(max_length=2000)
