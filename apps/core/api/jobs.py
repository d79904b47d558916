"""The one answer of every endpoint that queues a background job: 202 {"job": {"id", "url"}}."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

JOB_QUEUED = inline_serializer(
    "JobQueued",
    {"job": inline_serializer("JobRef", {"id": serializers.IntegerField(), "url": serializers.URLField()})},
)


def job_queued(request: Request, job_id: int) -> Response:
    """202 with the job's id and the absolute URL to poll (GET /api/v1/jobs/{id}/)."""
    url = request.build_absolute_uri(reverse("job-detail", args=[job_id]))
    return Response({"job": {"id": job_id, "url": url}}, status=status.HTTP_202_ACCEPTED)
