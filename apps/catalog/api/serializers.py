from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.catalog.models import CANONICAL_COLUMNS, LABEL_VALIDATOR, CatalogItem, CatalogRelease
from apps.core.api.fields import FenField, TextField


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


class ItemWriteSerializer(serializers.Serializer[Any]):
    """The item as GET returns it; unknown fields are refused (full replacement)."""

    refuses_unknown_fields = True  # documented as additionalProperties: false

    code = serializers.CharField(max_length=64)
    kind = serializers.CharField(required=False, allow_blank=True)
    name = serializers.CharField(max_length=255)
    generic_name = serializers.CharField(required=False, allow_blank=True, default="")
    dosage_form = serializers.CharField(required=False, allow_blank=True, default="")
    specification = serializers.CharField(required=False, allow_blank=True, default="")
    manufacturer = serializers.CharField(required=False, allow_blank=True, default="")
    unit = serializers.CharField(required=False, allow_blank=True, default="")
    pricing_unit = serializers.CharField(required=False, allow_blank=True, default="")
    category = serializers.CharField(max_length=2)
    restriction_text = serializers.CharField(required=False, allow_blank=True, default="")
    restriction_indication = serializers.CharField(required=False, allow_blank=True, default="")
    restriction_max_days = serializers.IntegerField(required=False, allow_null=True, default=None)
    restriction_hospital_level = serializers.CharField(required=False, allow_blank=True, default="")
    self_pay_ratio = serializers.DecimalField(max_digits=5, decimal_places=4, required=False, allow_null=True, default=None)
    payment_standard_fen = FenField(required=False, allow_null=True, default=None)
    category_path = serializers.CharField(required=False, allow_blank=True)
    replaces = serializers.ListField(child=serializers.CharField(max_length=64), required=False, default=list)
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
