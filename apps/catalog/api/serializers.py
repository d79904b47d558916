from __future__ import annotations

import re
from typing import Any

from rest_framework import serializers

from apps.catalog.models import CANONICAL_COLUMNS, LABEL_VALIDATOR, CatalogItem, CatalogRelease, HospitalLevel, ItemKind, PaymentCategory
from apps.catalog.validation import _MAX_LENGTHS, MAX_DAYS_LIMIT
from apps.core.api.fields import NOT_ONLY_SPACES, FenField, TextField, documented
from apps.core.codes import catalog_code_pattern


class ReleaseSerializer(serializers.ModelSerializer[CatalogRelease]):
    based_on = serializers.SlugRelatedField(slug_field="label", read_only=True)
    previous = serializers.SlugRelatedField(slug_field="label", read_only=True)
    created_by = serializers.StringRelatedField()
    submitted_by = serializers.StringRelatedField()
    approved_by = serializers.StringRelatedField()
    published_by = serializers.StringRelatedField()

    class Meta:
        model = CatalogRelease
        fields = [
            "label",
            "effective_from",
            "status",
            "based_on",
            "previous",
            "created_by",
            "created_at",
            "submitted_by",
            "submitted_at",
            "approved_by",
            "approved_at",
            "published_by",
            "published_at",
            "rejection_reason",
            "counts",
            "diff_counts",
            "sha256",
        ]
        read_only_fields = fields


class ReleaseCreateSerializer(serializers.Serializer[Any]):
    label = serializers.CharField(max_length=32, validators=[LABEL_VALIDATOR])  # type: ignore[assignment]
    effective_from = serializers.DateField()
    based_on = serializers.SlugRelatedField(
        slug_field="label", queryset=CatalogRelease.objects.filter(status="published"), required=False, allow_null=True
    )


class RejectSerializer(serializers.Serializer[Any]):
    reason = TextField(max_length=2000)


class ItemSerializer(serializers.ModelSerializer[CatalogItem]):
    release = serializers.SlugRelatedField(slug_field="label", read_only=True)

    class Meta:
        model = CatalogItem
        fields = [*CANONICAL_COLUMNS, "release"]
        read_only_fields = fields


def _one_of(values: list[str], *, blank: bool = False) -> str:
    """A pattern for one of ``values`` (the service checks its own choices and error codes; an
    enum here would become a component drf-spectacular names after the field, colliding with the
    read serializers' choice sets)."""
    return "^(" + "|".join(re.escape(v) for v in values) + ("|" if blank else "") + ")$"


def _text(name: str) -> Any:
    """An optional text field of an item, documented with the length the service allows."""
    field = serializers.CharField(required=False, allow_blank=True, default="")
    limit = _MAX_LENGTHS.get(name)
    return documented(field, maxLength=limit) if limit else field


class ItemWriteSerializer(serializers.Serializer[Any]):
    """The item as GET returns it; unknown fields are refused (full replacement)."""

    refuses_unknown_fields = True  # documented as additionalProperties: false

    # The schema says what the service (validation.clean_item) accepts, so that a request it calls
    # valid is not refused for its shape: a national code's layouts, the choices, the lengths.
    code = documented(serializers.CharField(max_length=64), pattern=catalog_code_pattern(), maxLength=64)
    kind = documented(serializers.CharField(required=False, allow_blank=True), pattern=_one_of(ItemKind.values, blank=True))
    name = documented(serializers.CharField(max_length=255), pattern=NOT_ONLY_SPACES, maxLength=_MAX_LENGTHS["name"])
    generic_name = _text("generic_name")
    dosage_form = _text("dosage_form")
    specification = _text("specification")
    manufacturer = _text("manufacturer")
    unit = _text("unit")
    pricing_unit = _text("pricing_unit")
    category = documented(serializers.CharField(max_length=2), pattern=_one_of(PaymentCategory.values))
    restriction_text = _text("restriction_text")
    restriction_indication = _text("restriction_indication")
    restriction_max_days = documented(
        serializers.IntegerField(required=False, allow_null=True, default=None),
        type="integer",
        minimum=1,
        maximum=MAX_DAYS_LIMIT,
        nullable=True,
    )
    restriction_hospital_level = documented(
        serializers.CharField(required=False, allow_blank=True, default=""), pattern=_one_of(HospitalLevel.values, blank=True)
    )
    self_pay_ratio = serializers.DecimalField(max_digits=5, decimal_places=4, required=False, allow_null=True, default=None)
    payment_standard_fen = FenField(required=False, allow_null=True, default=None)
    category_path = serializers.CharField(required=False, allow_blank=True)
    replaces = serializers.ListField(
        child=documented(serializers.CharField(max_length=64), pattern=catalog_code_pattern(former=True), maxLength=64),
        required=False,
        default=list,
    )
    release = serializers.CharField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(dict.fromkeys(unknown, "unknown field"))
        return attrs


class DiffSerializer(serializers.Serializer[Any]):
    """Documentation shape of a diff."""

    added = ItemSerializer(many=True)
    removed = serializers.ListField(child=serializers.CharField())
    changed = serializers.ListField(child=serializers.DictField())
    retired = serializers.ListField(child=serializers.DictField())
    counts = serializers.DictField(child=serializers.IntegerField())
