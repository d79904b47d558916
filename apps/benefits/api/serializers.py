"""Pre-check and simulation payloads (API.md, "Pre-check")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from apps.benefits.models import CareSetting, Scheme
from apps.catalog.models import HospitalLevel
from apps.core.api.fields import FenField
from apps.core.codes import CodeError, validate_institution_code, validate_province_code, validate_region_code

MAX_LINES = 5_000
MAX_FEN = 2**63 - 1  # money is a bigint of fen everywhere


def _province(value: str) -> str:
    try:
        return validate_province_code(value)
    except CodeError as exc:
        raise serializers.ValidationError(exc.reason, code="code_format") from exc


MAX_DAYS = 3660  # ten years of treatment on one line is already absurd


class ClaimLineSerializer(serializers.Serializer[Any]):
    line_no = serializers.IntegerField(min_value=1)
    code = serializers.CharField(max_length=64)
    quantity = serializers.DecimalField(max_digits=12, decimal_places=4, min_value=0, required=False, default=Decimal(1))
    amount_fen = FenField(min_value=0, max_value=10**13)
    days = serializers.IntegerField(
        min_value=1, max_value=MAX_DAYS, required=False, allow_null=True, default=None, help_text="Days of treatment the line covers."
    )


class SimulationLineSerializer(ClaimLineSerializer):
    amount_fen = FenField(
        min_value=0,
        max_value=10**13,
        required=False,
        allow_null=True,
        default=None,
        help_text="Optional where price schedules price the code.",
    )


class _ClaimBaseSerializer(serializers.Serializer[Any]):
    home_province = serializers.CharField()
    date_of_service = serializers.DateField()
    scheme = serializers.ChoiceField(choices=Scheme.values)
    setting = serializers.ChoiceField(choices=CareSetting.values)
    lines = ClaimLineSerializer(many=True, allow_empty=False, max_length=MAX_LINES)  # type: ignore[call-arg]
    diagnoses = serializers.ListField(child=serializers.CharField(max_length=64), required=False, default=list, max_length=50)
    registered = serializers.BooleanField(required=False, default=False, help_text="Filed for cross-province care.")
    hospital_level = serializers.ChoiceField(choices=HospitalLevel.values, required=False, help_text="Used when the registry has none.")
    deductible_used_fen = FenField(min_value=0, max_value=MAX_FEN, required=False, default=0, help_text="Deductible met earlier this year.")
    fund_paid_ytd_fen = FenField(min_value=0, max_value=MAX_FEN, required=False, default=0, help_text="Fund paid earlier this year (cap).")
    procedures = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list, max_length=50, help_text="ICD-9-CM-3 procedure codes."
    )
    drg_group = serializers.CharField(max_length=16, required=False, default="", allow_blank=True)
    drg_payment = serializers.BooleanField(required=False, default=False, help_text="Claim is paid per DRG group.")

    def validate_home_province(self, value: str) -> str:
        return _province(value)


class PrecheckRequestSerializer(_ClaimBaseSerializer):
    hospital = serializers.CharField(required=False, help_text="Institution code; a hospital caller defaults to itself.")
    destination_province = serializers.CharField(required=False, help_text="Default: the hospital's province.")
    pooling_area = serializers.CharField(
        required=False, help_text="City-level pooling area where treated (decides DRG payment); default: the hospital code's."
    )

    def validate_pooling_area(self, value: str) -> str:
        try:
            return validate_region_code(value)
        except CodeError as exc:
            raise serializers.ValidationError(exc.reason, code="code_format") from exc

    def validate_hospital(self, value: str) -> str:
        try:
            return validate_institution_code(value)
        except CodeError as exc:
            raise serializers.ValidationError(exc.reason, code="code_format") from exc

    def validate_destination_province(self, value: str) -> str:
        return _province(value)


class SimulationRequestSerializer(_ClaimBaseSerializer):
    destination_province = serializers.CharField()
    lines = SimulationLineSerializer(many=True, allow_empty=False, max_length=MAX_LINES)  # type: ignore[call-arg,assignment]

    def validate_destination_province(self, value: str) -> str:
        return _province(value)


class LineResultSerializer(serializers.Serializer[Any]):
    line_no = serializers.IntegerField()
    code = serializers.CharField()
    covered = serializers.BooleanField()
    reason_code = serializers.CharField()
    category = serializers.CharField(allow_null=True)
    amount_fen = serializers.IntegerField()
    payable_fen = serializers.IntegerField()
    patient_fen = serializers.IntegerField()
    self_pay_fen = serializers.IntegerField()
    deductible_fen = serializers.IntegerField()
    ratio = serializers.CharField()
    item_source = serializers.CharField(allow_null=True, help_text="national or local (transitional local item)")
    release = serializers.CharField(allow_null=True)
    over_standard_fen = serializers.IntegerField(help_text="Part of the amount above payment standard × quantity (the patient's).")
    over_max_days_fen = serializers.IntegerField(help_text="Part of the amount beyond the item's maximum days (the patient's).")
    suggested_code = serializers.CharField(allow_null=True, help_text="A lapsed local item's national mapping.")


class WarningSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    diagnosis = serializers.CharField()
    procedure = serializers.CharField(required=False)
    message = serializers.CharField()


class DiseaseSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    diagnosis = serializers.CharField(help_text="The claim's diagnosis that the listed disease covers.")
    ratio = serializers.CharField(allow_null=True)
    deductible_fen = serializers.IntegerField(allow_null=True)
    annual_cap_fen = serializers.IntegerField(allow_null=True)


class DrgSerializer(serializers.Serializer[Any]):
    group = serializers.CharField()
    name = serializers.CharField()
    weight = serializers.CharField()
    base_rate_fen = serializers.IntegerField()
    hospital_payment_fen = serializers.IntegerField(help_text="weight × base rate, rounded half-up to a fen")
    fund_payment_fen = serializers.IntegerField(help_text="hospital payment − the item-level patient share (not below 0)")
    table = serializers.CharField()
    area = serializers.CharField()


class ClaimResultSerializer(serializers.Serializer[Any]):
    release = serializers.CharField()
    home_province = serializers.CharField()
    destination_province = serializers.CharField()
    cross_province = serializers.BooleanField()
    hospital_level = serializers.CharField()
    pooling_area = serializers.CharField()
    policy = serializers.DictField()
    disease = DiseaseSerializer(allow_null=True)
    drg_group = serializers.CharField()
    drg_payment = serializers.BooleanField()
    drg = DrgSerializer(allow_null=True)
    totals = serializers.DictField(child=serializers.IntegerField())
    warnings = WarningSerializer(many=True)
    lines = LineResultSerializer(many=True)


class PrecheckResponseSerializer(ClaimResultSerializer):
    hospital = serializers.CharField()


class PricedLineSerializer(serializers.Serializer[Any]):
    line_no = serializers.IntegerField()
    unit_price_fen = serializers.IntegerField(allow_null=True)
    amount_fen = serializers.IntegerField()
    priced_from = serializers.ChoiceField(choices=["schedule", "claim"], help_text="the province's price schedule or the claim's amount")


class PricingSerializer(serializers.Serializer[Any]):
    at_home = PricedLineSerializer(many=True)
    away = PricedLineSerializer(many=True)


class SimulationResponseSerializer(serializers.Serializer[Any]):
    at_home = ClaimResultSerializer()
    away = ClaimResultSerializer()
    pricing = PricingSerializer()
