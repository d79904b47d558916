"""Pre-check and simulation payloads (API.md, "Pre-check")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from apps.benefits.models import BenefitPolicy, CareSetting, Scheme
from apps.catalog.models import HospitalLevel
from apps.core.api.fields import FenField
from apps.core.codes import CodeError, validate_institution_code, validate_province_code

MAX_LINES = 5_000
MAX_FEN = 2**63 - 1  # money is a bigint of fen everywhere


def _province(value: str) -> str:
    try:
        return validate_province_code(value)
    except CodeError as exc:
        raise serializers.ValidationError(exc.reason, code="code_format") from exc


class ClaimLineSerializer(serializers.Serializer[Any]):
    line_no = serializers.IntegerField(min_value=1)
    code = serializers.CharField(max_length=64)
    quantity = serializers.DecimalField(max_digits=12, decimal_places=4, min_value=0, required=False, default=Decimal(1))
    amount_fen = FenField(min_value=0, max_value=10**13)


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
    drg_group = serializers.CharField(max_length=16, required=False, default="", allow_blank=True)
    drg_payment = serializers.BooleanField(required=False, default=False, help_text="Claim is paid per DRG group.")

    def validate_home_province(self, value: str) -> str:
        return _province(value)


class PrecheckRequestSerializer(_ClaimBaseSerializer):
    hospital = serializers.CharField(required=False, help_text="Institution code; a hospital caller defaults to itself.")
    destination_province = serializers.CharField(required=False, help_text="Default: the hospital's province.")

    def validate_hospital(self, value: str) -> str:
        try:
            return validate_institution_code(value)
        except CodeError as exc:
            raise serializers.ValidationError(exc.reason, code="code_format") from exc

    def validate_destination_province(self, value: str) -> str:
        return _province(value)


class SimulationRequestSerializer(_ClaimBaseSerializer):
    destination_province = serializers.CharField()

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


class WarningSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    diagnosis = serializers.CharField()
    message = serializers.CharField()


class ClaimResultSerializer(serializers.Serializer[Any]):
    release = serializers.CharField()
    home_province = serializers.CharField()
    destination_province = serializers.CharField()
    cross_province = serializers.BooleanField()
    hospital_level = serializers.CharField()
    policy = serializers.DictField()
    drg_group = serializers.CharField()
    drg_payment = serializers.BooleanField()
    totals = serializers.DictField(child=serializers.IntegerField())
    warnings = WarningSerializer(many=True)
    lines = LineResultSerializer(many=True)


class PrecheckResponseSerializer(ClaimResultSerializer):
    hospital = serializers.CharField()


class SimulationResponseSerializer(serializers.Serializer[Any]):
    at_home = ClaimResultSerializer()
    away = ClaimResultSerializer()


# --- benefit policies (API.md: "Benefit policies over the API") ---------------------------------

RATIO_FIELDS = (
    "ratio_category_a",
    "ratio_category_b",
    "default_self_pay_ratio",
    "cross_province_ratio_registered",
    "cross_province_ratio_unregistered",
)


def _ratio(**kwargs: Any) -> serializers.DecimalField:
    # Decimal strings 0..1 with at most 4 places, both ways (never floats).
    return serializers.DecimalField(
        max_digits=5, decimal_places=4, min_value=Decimal(0), max_value=Decimal(1), coerce_to_string=True, **kwargs
    )


class PolicySerializer(serializers.ModelSerializer[BenefitPolicy]):
    province = serializers.SlugRelatedField(slug_field="code", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    submitted_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    # The same choice sets as the pre-check's (values only), so the schema has one enum of each.
    scheme = serializers.ChoiceField(choices=Scheme.values, read_only=True)
    setting = serializers.ChoiceField(choices=CareSetting.values, read_only=True)
    ratio_category_a = _ratio(read_only=True)
    ratio_category_b = _ratio(read_only=True)
    default_self_pay_ratio = _ratio(read_only=True)
    cross_province_ratio_registered = _ratio(read_only=True)
    cross_province_ratio_unregistered = _ratio(read_only=True)

    class Meta:
        model = BenefitPolicy
        fields = [
            "id",
            "province",
            "scheme",
            "setting",
            "hospital_level",
            "effective_from",
            "effective_to",
            "deductible_fen",
            *RATIO_FIELDS,
            "annual_cap_fen",
            "note",
            "status",
            "created_by",
            "created_at",
            "submitted_by",
            "submitted_at",
            "approved_by",
            "approved_at",
        ]
        read_only_fields = fields


class PolicyCreateSerializer(serializers.Serializer[Any]):
    """A draft policy; unknown fields are refused."""

    province = serializers.CharField()
    scheme = serializers.ChoiceField(choices=Scheme.values)
    setting = serializers.ChoiceField(choices=CareSetting.values)
    hospital_level = serializers.ChoiceField(choices=["", *HospitalLevel.values], required=False, default="", allow_blank=True)
    effective_from = serializers.DateField()
    effective_to = serializers.DateField(required=False, allow_null=True, default=None)
    deductible_fen = FenField(min_value=0, max_value=MAX_FEN)
    ratio_category_a = _ratio()
    ratio_category_b = _ratio()
    default_self_pay_ratio = _ratio(required=False, default=Decimal(0))
    annual_cap_fen = FenField(min_value=0, max_value=MAX_FEN)
    cross_province_ratio_registered = _ratio(required=False, default=Decimal(1))
    cross_province_ratio_unregistered = _ratio(required=False, default=Decimal(1))
    note = serializers.CharField(required=False, default="", allow_blank=True, max_length=2000)

    def validate_province(self, value: str) -> str:
        return _province(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(dict.fromkeys(unknown, "unknown field"))
        return attrs
