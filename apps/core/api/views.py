from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import generics

from apps.core.health import health_report
from apps.core.models import Job
from apps.core.permissions import has_role
from apps.core.roles import Role

from .serializers import JobSerializer


def healthz(request: HttpRequest) -> JsonResponse:
    """Load balancers and the public get ``{"ok": …}`` only (200 / 503); logged-in staff also
    get each part's state, whose error text names hosts and ports."""
    report = health_report()
    status = 200 if report["ok"] else 503
    if not has_role(request.user, *Role.values):
        return JsonResponse({"ok": report["ok"]}, status=status)
    return JsonResponse(report, status=status)


@extend_schema(summary="Progress and result of a background job (import, reconciliation run)")
class JobDetailView(generics.RetrieveAPIView[Job]):
    serializer_class = JobSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        user = self.request.user
        jobs = Job.objects.all()
        if getattr(user, "is_superuser", False) or getattr(user, "staff_profile", None) is not None:
            return jobs
        return jobs.none()
