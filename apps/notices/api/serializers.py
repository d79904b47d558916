from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from apps.core.api.fields import NOT_ONLY_SPACES, documented
from apps.notices.models import ChangeNotice, NoticeDelivery, WebhookEndpoint
from apps.notices.services import REPLAY_MAX_IDS


class AckSerializer(serializers.Serializer):
    loaded_at = serializers.DateTimeField(required=False)
    items_count = serializers.IntegerField(required=False, min_value=0, allow_null=True)


class AckOutSerializer(serializers.Serializer):
    release = serializers.CharField(source="release.label")
    loaded_at = serializers.DateTimeField()
    items_count = serializers.IntegerField(allow_null=True)
    acknowledged_at = serializers.DateTimeField()


class ItemUsageSerializer(serializers.Serializer):
    # The service refuses a code of spaces alone or one longer than 32 (row errors); the schema
    # says so. A blank one is refused here: allowing it would make the schema say "" is valid.
    codes = serializers.ListField(
        child=documented(serializers.CharField(max_length=64), maxLength=32, pattern=NOT_ONLY_SPACES), max_length=200_000
    )


# What the schema says a webhook URL is (the service also refuses non-public hosts: 400 webhook_url_not_public).
# The path and query take RFC 3986 characters only (no spaces, quotes, angle brackets), checked here too.
_URL_PATTERN = (
    r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$"
)
_URL_SCHEMA = {"format": "uri", "pattern": _URL_PATTERN, "maxLength": 500}
_URL_SYNTAX = RegexValidator(_URL_PATTERN, message="the webhook URL must be an absolute http(s) URL", code="invalid_url")


class EndpointCreateSerializer(serializers.Serializer):
    url = documented(serializers.CharField(max_length=500, validators=[_URL_SYNTAX]), **_URL_SCHEMA)
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=ChangeNotice.EventType.values), required=False, default=list)


class EndpointUpdateSerializer(serializers.Serializer):
    """PATCH: any of url, event_types, active; a field it does not know is refused (400), so a
    typo cannot pass for a change that was made."""

    refuses_unknown_fields = True  # documented as additionalProperties: false

    url = documented(serializers.CharField(max_length=500, required=False, validators=[_URL_SYNTAX]), **_URL_SCHEMA)
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=ChangeNotice.EventType.values), required=False)
    active = serializers.BooleanField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(dict.fromkeys(unknown, "unknown field"))
        return attrs


class RotateSerializer(serializers.Serializer):
    retire_old_now = serializers.BooleanField(required=False, default=False)


class EndpointSerializer(serializers.ModelSerializer):
    detail_url = serializers.SerializerMethodField(help_text="Absolute URL of this endpoint in the API.")

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "event_types",
            "active",
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "previous_secret_expires_at",
            "created_at",
            "detail_url",
        ]

    def get_detail_url(self, obj: WebhookEndpoint) -> str | None:
        request = self.context.get("request")
        path = f"/api/v1/webhooks/endpoints/{obj.pk}/"
        return request.build_absolute_uri(path) if request is not None else path


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.SerializerMethodField(help_text="whsec_… — shown only in this response.")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]

    def get_secret(self, obj: WebhookEndpoint) -> str:
        return str(self.context["secret"])


class PingResultSerializer(serializers.Serializer):
    webhook_id = serializers.CharField()
    delivered = serializers.BooleanField()
    status = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True, help_text="timeout, connection_failed or http_<status>; null when delivered")
    latency_ms = serializers.IntegerField()


class DeliverySerializer(serializers.ModelSerializer):
    """A delivery as its hospital sees it: ``last_error`` is the coarse kind only (timeout,
    connection_failed, http_<status>, endpoint_disabled), never transport error text."""

    last_error = serializers.CharField(source="last_error_code")
    webhook_id = serializers.CharField(source="notice.webhook_id")
    seq = serializers.IntegerField(source="notice.seq")
    hospital = serializers.CharField(source="notice.hospital.code")
    release = serializers.CharField(source="notice.release.label")
    url = serializers.CharField(source="endpoint.url")

    class Meta:
        model = NoticeDelivery
        fields = [
            "id",
            "webhook_id",
            "seq",
            "hospital",
            "release",
            "url",
            "state",
            "attempts",
            "next_attempt_at",
            "last_status",
            "last_error",
            "delivered_at",
            "failed_at",
        ]


class StaffDeliverySerializer(DeliverySerializer):
    """Staff also read the full detail of the last failure."""

    last_error_detail = serializers.CharField(source="last_error")

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "last_error_detail"]


class ReplaySerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=REPLAY_MAX_IDS)
