from rest_framework import serializers

from apps.core.models import Job


class JobSerializer(serializers.ModelSerializer[Job]):
    class Meta:
        model = Job
        fields = ["id", "kind", "state", "done", "total", "errors", "error_count", "result", "created_at", "started_at", "finished_at"]
        read_only_fields = fields
