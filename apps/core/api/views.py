from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.health import health_report
from apps.core.jobs import job_view, jobs_visible_to
from apps.core.models import Job

from .serializers import JobSerializer


def healthz(request: HttpRequest) -> JsonResponse:
    report = health_report()
    return JsonResponse(report, status=200 if report["ok"] else 503)


@extend_schema(summary="Progress and result of a background job (import, reconciliation run)")
class JobDetailView(generics.RetrieveAPIView[Job]):
    """A job of the caller's province (or a national one she may see), with what she may see of
    its result: a province-bound user gets a reconciliation run cut down to her province."""

    serializer_class = JobSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return jobs_visible_to(user=self.request.user)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        job = self.get_object()
        view = job_view(job=job, user=request.user)
        job.result, job.errors = view.result, view.errors  # shown, never saved
        return Response(JobSerializer(job).data)
