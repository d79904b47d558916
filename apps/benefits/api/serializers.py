"""Pre-check and simulation payloads (API.md, "Pre-check")."""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.fields import SkipField, empty

from apps.benefits.models import BenefitPolicy, CareSetting, Scheme
from apps.catalog.models import HospitalLevel
from apps.core.api.fields import (
    NOT_ONLY_SPACES,
    FenField,
    TextField,
    documented,
    institution_code_field,
    province_code_field,
    region_code_field,
)
from apps.core.codes import CodeError, validate_institution_code, validate_province_code, validate_region_code

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

MAX_LINES = 5_000
MAX_FEN = 2**63 - 1  # money is a bigint of fen everywhere


def _province(value: str) -> str:
    try:
        return validate_province_code(value)
    except CodeError as exc:
        raise serializers.ValidationError(exc.reason, code="code_format") from exc


MAX_DAYS = 3660  # ten years of treatment on one line is already absurd
MAX_AMOUNT_FEN = 10**13


class ClaimLineSerializer(serializers.Serializer[Any]):
    line_no = serializers.IntegerField(min_value=1)
    code = documented(serializers.CharField(max_length=64), pattern=NOT_ONLY_SPACES, maxLength=64)
    quantity = serializers.DecimalField(max_digits=12, decimal_places=4, min_value=0, required=False, default=Decimal(1))
    amount_fen = FenField(min_value=0, max_value=MAX_AMOUNT_FEN)
    days = serializers.IntegerField(
        min_value=1, max_value=MAX_DAYS, required=False, allow_null=True, default=None, help_text="Days of treatment the line covers."
    )


class SimulationLineSerializer(ClaimLineSerializer):
    amount_fen = FenField(
        min_value=0,
        max_value=MAX_AMOUNT_FEN,
        required=False,
        default=None,
        help_text="Leave it out where price schedules price the code (null is not an amount).",
    )


_QUANTUM = Decimal("0.0001")


def _plain_int(value: Any, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _plain_code(value: Any) -> bool:
    # What CharField(max_length=64) accepts unchanged: ASCII (so no surrogate), no NUL, nothing to trim.
    return type(value) is str and 0 < len(value) <= 64 and value.isascii() and value.strip() == value and "\x00" not in value


# The usual shape of each field, read without DRF's machinery; anything else goes through the
# line serializer's own field, which decides (and words the error) exactly as before.
_FAST_PATHS: dict[str, tuple[Any, Any]] = {
    "line_no": (lambda v: type(v) is int and v >= 1, int),
    "code": (_plain_code, str),
    "amount_fen": (lambda v: _plain_int(v, 0, MAX_AMOUNT_FEN), int),
    "quantity": (lambda v: _plain_int(v, 0, 10**7), lambda v: Decimal(v).quantize(_QUANTUM)),
    "days": (lambda v: v is None or _plain_int(v, 1, MAX_DAYS), lambda v: v),
}


@lru_cache(maxsize=4)
def _line_fields(line_serializer: type[serializers.Serializer[Any]]) -> list[tuple[str, Any]]:
    # Built once per line serializer: each request's serializer deep-copies its declared fields,
    # and this field's copy (re-initialised from its arguments) shares these, which hold no
    # state of a request (copying them cost 0.3 ms a request).
    return list(line_serializer().fields.items())


@extend_schema_field(ClaimLineSerializer(many=True))
class ClaimLinesField(serializers.Field):  # type: ignore[type-arg]
    """A claim's lines, each validated by ``line_serializer``'s fields, without a nested
    serializer per line: DRF's nested machinery cost about 50 µs a line, a third of a 20-line
    pre-check's time in the web process. Errors keep the nested shape (``lines.3.amount_fen``)."""

    default_error_messages = {
        "not_a_list": 'Expected a list of items but got type "{input_type}".',
        "empty": "This list may not be empty.",
        "max_length": "Ensure this field has no more than {max_length} elements.",
        "not_a_dict": "Invalid data. Expected a dictionary, but got {datatype}.",
    }

    def __init__(self, *, line_serializer: type[serializers.Serializer[Any]], max_length: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.line_serializer, self.max_length = line_serializer, max_length
        self.allow_empty = False  # read by the schema (minItems 1); to_internal_value refuses [] itself
        self.line_fields = _line_fields(line_serializer)

    def to_internal_value(self, data: Any) -> list[dict[str, Any]]:
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        if not data:
            self.fail("empty")
        if len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        lines: list[dict[str, Any]] = []
        errors: dict[str, Any] = {}
        for index, item in enumerate(data):
            if not isinstance(item, dict):
                message = self.error_messages["not_a_dict"].format(datatype=type(item).__name__)
                errors[str(index)] = {"non_field_errors": [ErrorDetail(message, code="invalid")]}
                continue
            line: dict[str, Any] = {}
            problems: dict[str, Any] = {}
            for name, field in self.line_fields:
                value = item.get(name, empty)
                fast = _FAST_PATHS.get(name)
                if fast is not None and value is not empty and fast[0](value):
                    line[name] = fast[1](value)
                    continue
                try:
                    line[name] = field.run_validation(value)
                except serializers.ValidationError as exc:
                    problems[name] = exc.detail
                except SkipField:
                    pass
            if problems:
                errors[str(index)] = problems
            lines.append(line)
        if errors:
            raise serializers.ValidationError(errors)
        return lines

    def to_representation(self, value: Any) -> Any:
        return value


def _plain_text(value: Any, max_length: int) -> bool:
    # What a CharField (no blank) accepts unchanged, as _plain_code, up to ``max_length``.
    return type(value) is str and 0 < len(value) <= max_length and value.isascii() and value.strip() == value and "\x00" not in value


class _Slow(Exception):
    """A value the fast path does not decide: the whole body goes through DRF's fields."""


def _code(validate: Callable[[str], str]) -> Callable[[Any], str]:
    def read(value: Any) -> str:
        if not _plain_text(value, 64):
            raise _Slow
        try:
            return validate(value)
        except CodeError:
            raise _Slow from None

    return read


def _choice(choices: list[str]) -> Callable[[Any], str]:
    allowed = frozenset(choices)

    def read(value: Any) -> str:
        if type(value) is not str or value not in allowed:
            raise _Slow
        return value

    return read


def _date(value: Any) -> dt.date:
    if type(value) is not str or not _ISO_DATE.fullmatch(value):
        raise _Slow
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _Slow from None


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise _Slow
    return value


def _fen(value: Any) -> int:
    if not _plain_int(value, 0, MAX_FEN):
        raise _Slow
    return int(value)


def _codes(value: Any) -> list[str]:
    # ListField(child=CharField(max_length=64), max_length=50) of plain codes.
    if type(value) is not list or len(value) > 50 or not all(_plain_code(item) for item in value):
        raise _Slow
    return list(value)


def _drg_group(value: Any) -> str:
    # CharField(max_length=16, allow_blank=True): "" is a value here.
    if value != "" and not _plain_text(value, 16):
        raise _Slow
    return str(value)


_ABSENT = object()  # no default: an absent optional field stays out of validated_data


class _ClaimBaseSerializer(serializers.Serializer[Any]):
    # The usual JSON shape of every field, read without DRF's machinery: (reader, default when
    # absent: _ABSENT leaves it out, empty means required). A reader raises _Slow for anything
    # else, and then the whole body goes through DRF's fields, which decide (and word every
    # error) exactly as before; a test compares the two on generated bodies. Binding 16 fields
    # and running each through DRF cost about as much as the claim's adjudication.
    fast_fields: dict[str, tuple[Callable[[Any], Any], Any]] = {}

    def run_validation(self, data: Any = empty) -> Any:
        fast = self.fast_validated(data)
        return fast if fast is not None else super().run_validation(data)

    def fast_validated(self, data: Any) -> dict[str, Any] | None:
        """``data`` validated by the fast readers, or None when one of them cannot decide."""
        if type(data) is not dict or set(self.fast_fields) != set(self._declared_fields):
            return None
        validated: dict[str, Any] = {}
        try:
            for name, (read, default) in self.fast_fields.items():
                value = data.get(name, empty)
                if value is not empty:
                    validated[name] = read(value)
                elif default is empty:
                    return None  # required: DRF words the error
                elif default is not _ABSENT:
                    validated[name] = default() if callable(default) else default
            validated["lines"] = self._declared_fields["lines"].run_validation(validated["lines"])
        except (_Slow, serializers.ValidationError):
            return None
        return validated

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        # DRF deep-copies every declared field for every request (re-creating choice lists and
        # validators: a third of a 20-line pre-check's parsing). These fields keep no state of a
        # request (no defaults that read the request, no nested serializers), so each request's
        # serializer binds a shallow copy of them instead.
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}

    home_province = province_code_field()
    date_of_service = serializers.DateField()
    scheme = serializers.ChoiceField(choices=Scheme.values)
    setting = serializers.ChoiceField(choices=CareSetting.values)
    lines = ClaimLinesField(line_serializer=ClaimLineSerializer, max_length=MAX_LINES)
    diagnoses = serializers.ListField(
        child=documented(serializers.CharField(max_length=64), pattern=NOT_ONLY_SPACES, maxLength=64),
        required=False,
        default=list,
        max_length=50,
    )
    registered = serializers.BooleanField(required=False, default=False, help_text="Filed for cross-province care.")
    hospital_level = serializers.ChoiceField(choices=HospitalLevel.values, required=False, help_text="Used when the registry has none.")
    deductible_used_fen = FenField(min_value=0, max_value=MAX_FEN, required=False, default=0, help_text="Deductible met earlier this year.")
    fund_paid_ytd_fen = FenField(min_value=0, max_value=MAX_FEN, required=False, default=0, help_text="Fund paid earlier this year (cap).")
    procedures = serializers.ListField(
        child=documented(serializers.CharField(max_length=64), pattern=NOT_ONLY_SPACES, maxLength=64),
        required=False,
        default=list,
        max_length=50,
        help_text="ICD-9-CM-3 procedure codes.",
    )
    drg_group = serializers.CharField(max_length=16, required=False, default="", allow_blank=True)
    drg_payment = serializers.BooleanField(required=False, default=False, help_text="Claim is paid per DRG group.")

    def validate_home_province(self, value: str) -> str:
        return _province(value)


def _lines(value: Any) -> Any:
    return value  # validated by the lines field itself once the other fields have been read


_BASE_FAST_FIELDS: dict[str, tuple[Callable[[Any], Any], Any]] = {
    "home_province": (_code(validate_province_code), empty),
    "date_of_service": (_date, empty),
    "scheme": (_choice(Scheme.values), empty),
    "setting": (_choice(CareSetting.values), empty),
    "lines": (_lines, empty),
    "diagnoses": (_codes, list),
    "registered": (_bool, False),
    "hospital_level": (_choice(HospitalLevel.values), _ABSENT),
    "deductible_used_fen": (_fen, 0),
    "fund_paid_ytd_fen": (_fen, 0),
    "procedures": (_codes, list),
    "drg_group": (_drg_group, ""),
    "drg_payment": (_bool, False),
}


class PrecheckRequestSerializer(_ClaimBaseSerializer):
    fast_fields = {
        **_BASE_FAST_FIELDS,
        "hospital": (_code(validate_institution_code), _ABSENT),
        "destination_province": (_code(validate_province_code), _ABSENT),
        "pooling_area": (_code(validate_region_code), _ABSENT),
    }

    hospital = institution_code_field(required=False, help_text="Institution code; a hospital caller defaults to itself.")
    destination_province = province_code_field(required=False, help_text="Default: the hospital's province.")
    pooling_area = region_code_field(
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
    fast_fields = {**_BASE_FAST_FIELDS, "destination_province": (_code(validate_province_code), empty)}

    destination_province = province_code_field()
    lines = ClaimLinesField(line_serializer=SimulationLineSerializer, max_length=MAX_LINES)

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
    pooling_area = region_code_field()
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

    refuses_unknown_fields = True  # documented as additionalProperties: false

    province = province_code_field()
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
    note = TextField(required=False, default="", allow_blank=True, max_length=2000)

    def validate_province(self, value: str) -> str:
        return _province(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(dict.fromkeys(unknown, "unknown field"))
        return attrs
