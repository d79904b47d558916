from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.permissions import BasePermission

from apps.core.health import health_report
from apps.core.models import AuditAction, AuditEvent, Job
from apps.core.principals import is_hospital
from apps.core.selectors import audit_events, audit_readable_by

from .pagination import AuditCursorPagination
from .serializers import AuditEventFilterSerializer, AuditEventSerializer, JobSerializer


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
        if is_hospital(user):
            # A hospital follows the jobs it queued itself (a mapping upload) and no others.
            return jobs.filter(params__hospital_id=user.hospital_id)  # type: ignore[union-attr]
        return jobs.none()


class CanReadAuditLog(BasePermission):
    message = "the audit log is read by auditors"

    def has_permission(self, request: Any, view: Any) -> bool:
        return audit_readable_by(request.user)


@extend_schema(
    summary="The audit log: one typed event per action (auditors)",
    parameters=[
        OpenApiParameter("actor", str, description="user name (or hospital / process label) that acted"),
        OpenApiParameter("action", str, enum=AuditAction.values),
        OpenApiParameter("province", str, pattern="^[0-9]{6}$"),
        OpenApiParameter("from", OpenApiTypes.DATE, description="first day, inclusive"),
        OpenApiParameter("to", OpenApiTypes.DATE, description="last day, inclusive"),
    ],
)
class AuditEventListView(generics.ListAPIView[AuditEvent]):
    serializer_class = AuditEventSerializer
    permission_classes = [CanReadAuditLog]
    pagination_class = AuditCursorPagination
    filter_backends: list[Any] = []

    def get_queryset(self):  # type: ignore[no-untyped-def]
        filters = AuditEventFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return audit_events(
            actor=data.get("actor", ""),
            action=data.get("action", ""),
            province=data.get("province", ""),
            date_from=data.get("from"),
            date_to=data.get("to"),
        )
