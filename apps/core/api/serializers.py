from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from apps.core.models import AuditAction, AuditEvent, Job


class JobSerializer(serializers.ModelSerializer[Job]):
    class Meta:
        model = Job
        fields = ["id", "kind", "state", "done", "total", "errors", "error_count", "result", "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    actor = serializers.CharField(source="actor_label")
    action_label = serializers.CharField()
    object = serializers.CharField(source="object_repr")
    province = serializers.CharField(source="province_code")

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "occurred_at",
            "actor",
            "action",
            "action_label",
            "object_type",
            "object_id",
            "object",
            "province",
            "reason",
            "detail",
        ]
        read_only_fields = fields


class AuditEventFilterSerializer(serializers.Serializer[Any]):
    actor = serializers.CharField(required=False, max_length=150)
    action = serializers.ChoiceField(required=False, choices=AuditAction.choices)
    province = serializers.RegexField(r"^[0-9]{6}$", required=False)

    def get_fields(self) -> dict[str, Any]:
        # ``from`` and ``to`` (inclusive dates) are Python keywords, so they cannot be class attributes.
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False)
        fields["to"] = serializers.DateField(required=False)
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # DRF drops an optional query parameter sent empty (``?to=``) as if it were absent; the
        # schema says each of these is a date, a choice or a code, so an empty one is refused.
        blank = [name for name in ("action", "province", "from", "to") if self.initial_data.get(name) == ""]
        if blank:
            raise serializers.ValidationError({name: [ErrorDetail(str(_("may not be blank")), code="blank")] for name in blank})
        return attrs
