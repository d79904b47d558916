from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import generics

from apps.core.health import health_report
from apps.core.models import Job

from .serializers import JobSerializer


def healthz(request: HttpRequest) -> JsonResponse:
    report = health_report()
    return JsonResponse(report, status=200 if report["ok"] else 503)


@extend_schema(summary="Progress and result of a background job (import, reconciliation run)")
class JobDetailView(generics.RetrieveAPIView[Job]):
    serializer_class = JobSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        user = self.request.user
        jobs = Job.objects.all()
        if getattr(user, "is_superuser", False) or getattr(user, "staff_profile", None) is not None:
            return jobs
        return jobs.none()
