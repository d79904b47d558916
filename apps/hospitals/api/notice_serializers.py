from __future__ import annotations

from rest_framework import serializers

from apps.hospitals.models import ChangeNotice, DeliveryAttempt, NoticeDelivery, WebhookEndpoint


class AckSerializer(serializers.Serializer):
    loaded_at = serializers.DateTimeField(required=False)
    items_count = serializers.IntegerField(required=False, min_value=0, allow_null=True)


class AckOutSerializer(serializers.Serializer):
    release = serializers.CharField(source="release.label")
    loaded_at = serializers.DateTimeField()
    items_count = serializers.IntegerField(allow_null=True)
    acknowledged_at = serializers.DateTimeField()


class ItemUsageSerializer(serializers.Serializer):
    codes = serializers.ListField(child=serializers.CharField(max_length=64, allow_blank=True), max_length=200_000)


class EndpointCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500)
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=ChangeNotice.EventType.values), required=False, default=list)


class EndpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "event_types", "active", "disabled_reason", "disabled_at", "failing_since", "created_at"]


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.SerializerMethodField(help_text="whsec_… — shown only in this response.")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]

    def get_secret(self, obj: WebhookEndpoint) -> str:
        return str(self.context["secret"])


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["attempted_at", "status_code", "latency_ms", "error", "response_excerpt"]


class DeliverySerializer(serializers.ModelSerializer):
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


class ReplaySerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=100_000)
