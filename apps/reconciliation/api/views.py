"""Staff endpoints of reconciliation (API.md, "Pooling and reconciliation"). Thin."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.jobs import JOB_QUEUED, job_queued
from apps.core.api.permissions import IsStaffMember, ReadsMoney
from apps.core.errors import ValidationFailed
from apps.core.pdf import PDF_CONTENT_TYPE, render_pdf
from apps.core.permissions import bound_province
from apps.reconciliation import selectors, services, statements
from apps.reconciliation.models import ReconciliationRun

from .serializers import RunRequestSerializer, RunSerializer, SettlementImportSerializer


class RunCreateView(APIView):
    """Queue a run of a period: 202 with the job; its result names the run."""

    permission_classes = [IsStaffMember]

    @extend_schema(request=RunRequestSerializer, responses={202: JOB_QUEUED}, summary="Run the reconciliation of a month")
    def post(self, request: Request) -> Response:
        payload = RunRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        job = services.reconciliation_request(period=payload.validated_data["period"], user=request.user)
        return job_queued(request, job.pk)


class RunDetailView(generics.RetrieveAPIView[ReconciliationRun]):
    """A run for money readers; a province-bound one sees the pairs of her province and her own
    net position only."""

    permission_classes = [ReadsMoney]
    serializer_class = RunSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.runs()

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        run = self.get_object()
        summary = selectors.run_summary_for(run=run, province=bound_province(request.user))
        return Response(RunSerializer(run, context={"summary": summary}).data)


class RunDiscrepanciesCsvView(APIView):
    """The run's discrepancies as CSV, optionally of one pair (?home=&destination=)."""

    permission_classes = [ReadsMoney]

    @extend_schema(responses={(200, "text/csv"): bytes}, summary="Discrepancies of a run as CSV")
    def get(self, request: Request, pk: int) -> Any:
        run = get_object_or_404(selectors.runs(), pk=pk)
        home, destination = request.query_params.get("home", ""), request.query_params.get("destination", "")
        # Provincial readers get the pairs involving their own province only.
        province = bound_province(request.user)
        rows = selectors.discrepancies_csv(run=run, home=home, destination=destination, province=province)
        response = StreamingHttpResponse(rows, content_type="text/csv")
        name = f"discrepancies-{run.period}-{home or 'all'}-{destination or 'all'}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class RunStatementView(APIView):
    """A province's monthly clearing statement of a run, as PDF (default) or JSON. A
    province-bound reader gets her own province's (another ``province`` 403 wrong_province); a
    national reader names the province."""

    permission_classes = [ReadsMoney]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[Any, str]:
        # ?format= names the statement's file type here, not a DRF renderer; errors stay JSON.
        return JSONRenderer(), JSONRenderer.media_type

    @extend_schema(
        parameters=[
            OpenApiParameter("province", str, description="province code (a province-bound reader: her own, the default)"),
            OpenApiParameter("format", str, enum=["pdf", "json"], description="pdf (default) or json"),
        ],
        responses={(200, PDF_CONTENT_TYPE): bytes, (200, "application/json"): dict},
        summary="Monthly clearing statement of one province for a run",
    )
    def get(self, request: Request, pk: int) -> Any:
        run = get_object_or_404(selectors.runs(), pk=pk)
        province = statements.statement_province(user=request.user, requested=request.query_params.get("province", ""))
        fmt = request.query_params.get("format", "pdf")
        if fmt not in ("pdf", "json"):
            raise ValidationFailed("format is pdf or json", errors=[{"field": "format", "code": "invalid", "message": "pdf or json"}])
        statement = statements.clearing_statement(run=run, province=province)
        if fmt == "json":
            return Response(statement)
        pdf = render_pdf(template="statements/clearing_statement.html", context={"statement": statement, "run": run})
        response = HttpResponse(pdf, content_type=PDF_CONTENT_TYPE)
        response["Content-Disposition"] = f'attachment; filename="clearing-{run.period}-{province}-run{run.pk}.pdf"'
        return response


class SettlementImportView(APIView):
    """Queue a settlement file import: multipart {file, side, period} → 202 with the job."""

    permission_classes = [IsStaffMember]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": SettlementImportSerializer}, responses={202: JOB_QUEUED}, summary="Import settled claims"
    )
    def post(self, request: Request) -> Response:
        payload = SettlementImportSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        job = services.settlement_import_enqueue(period=data["period"], side=data["side"], upload=data["file"], user=request.user)
        return job_queued(request, job.pk)
