from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.errors import localized
from apps.core.health import health_report
from apps.core.jobs import job_view, jobs_visible_to
from apps.core.models import AuditAction, AuditEvent, Job
from apps.core.permissions import has_role
from apps.core.roles import Role
from apps.core.selectors import audit_events, audit_readable_by

from .errors import asks_for_chinese
from .pagination import AuditCursorPagination
from .serializers import AuditEventFilterSerializer, AuditEventSerializer, JobSerializer


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
    """A job of the caller's province (or a national one she may see), with what she may see of
    its result: a province-bound user gets a reconciliation run cut down to her province."""

    serializer_class = JobSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return jobs_visible_to(user=self.request.user)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        job = self.get_object()
        view = job_view(job=job, user=request.user)
        # Shown, never saved: texts in the language the request asks for (English by default).
        with translation.override("zh-hans" if asks_for_chinese(request) else "en"):
            job.result, job.errors = localized(view.result), [localized(error) for error in view.errors]
        return Response(JobSerializer(job).data)


class CanReadAuditLog(BasePermission):
    message = "the audit log is read by auditors"
    schema_callers = ("staff",)

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
