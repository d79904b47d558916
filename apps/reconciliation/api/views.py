"""Staff endpoints of reconciliation (API.md, "Pooling and reconciliation"). Thin."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
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
from apps.core.api.pagination import CURSOR_PARAMETER, PAGE_SIZE_PARAMETER, IdCursorPagination, invalid_cursor, page_size_of
from apps.core.api.permissions import IsStaffMember, ReadsMoney
from apps.core.codes import province_code_pattern
from apps.core.errors import ValidationFailed
from apps.core.pdf import PDF_CONTENT_TYPE, render_pdf
from apps.core.permissions import bound_province, require_province
from apps.reconciliation import selectors, services, statements
from apps.reconciliation.models import Discrepancy, ReconciliationRun, SettlementBatch

from .serializers import (
    BatchSerializer,
    ComplianceRowSerializer,
    DiscrepancySerializer,
    OptionalReasonSerializer,
    ResolveSerializer,
    RunRequestSerializer,
    RunSerializer,
    SettlementImportSerializer,
    StepReasonSerializer,
)


class DiscrepancyPagination(IdCursorPagination):
    ordering = "id"


def paginate_list(request: Request, rows: list[Any]) -> dict[str, Any]:
    """The list envelope over a computed list: ``cursor`` is the offset, ``page_size`` ≤ 1000."""
    size = page_size_of(request)  # 1..1000, else 400 naming the parameter (core.api.pagination)
    raw = request.query_params.get("cursor", "0") or "0"
    if not raw.isdigit() or len(raw) > 9:
        raise invalid_cursor()
    offset = int(raw)
    page = rows[offset : offset + size]
    following = None
    if offset + size < len(rows):
        query = request.query_params.copy()
        query["cursor"] = str(offset + size)
        following = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    return {"next": following, "results": page}


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
            OpenApiParameter(
                "province",
                str,
                required=True,
                pattern=province_code_pattern(),
                description="province code (a province-bound reader may leave it out: her own is the default)",
            ),
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
        job = services.settlement_import_enqueue(
            period=data["period"], side=data["side"], upload=data["file"], user=request.user, replaces=data.get("replaces")
        )
        return job_queued(request, job.pk)


class BatchListView(generics.ListAPIView[SettlementBatch]):
    """Settlement batches of a period (``?period=YYYY-MM``): a province-bound reader's own province's."""

    permission_classes = [ReadsMoney]
    serializer_class = BatchSerializer
    pagination_class = IdCursorPagination

    @extend_schema(
        parameters=[OpenApiParameter("period", str, description="YYYY-MM", pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")],
        summary="Settlement batches",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return SettlementBatch.objects.none()
        period = self.request.query_params.get("period", "")
        if "period" in self.request.query_params:  # given, it is a month (an empty one too is refused)
            services.check_period(period)
        return selectors.batches_visible_to(user=self.request.user, period=period)


class BatchWithdrawView(APIView):
    """Withdraw an active batch with a reason; runs stop reading its rows."""

    permission_classes = [ReadsMoney]

    @extend_schema(request=StepReasonSerializer, responses={200: BatchSerializer}, summary="Withdraw a settlement batch")
    def post(self, request: Request, pk: int) -> Response:
        payload = StepReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        batch = get_object_or_404(SettlementBatch, pk=pk)  # the service answers 404 outside the user's province
        batch = services.settlement_batch_withdraw(batch=batch, user=request.user, reason=payload.validated_data["reason"])
        return Response(BatchSerializer(batch).data)


class RunDiscrepancyListView(generics.ListAPIView[Discrepancy]):
    """A run's discrepancies (``?kind=&province=&hospital=``): a province-bound reader's pairs only."""

    permission_classes = [ReadsMoney]
    serializer_class = DiscrepancySerializer
    pagination_class = DiscrepancyPagination

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "kind", str, description="amount_mismatch | missing_home | missing_destination | duplicate | release_not_in_force"
            ),
            OpenApiParameter("province", str, description="home or destination province"),
            OpenApiParameter("hospital", str, description="hospital code"),
            OpenApiParameter("state", str, description="open | disputed | resolution_proposed | resolved | written_off"),
        ],
        summary="Discrepancies of a run",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Discrepancy.objects.none()
        run = get_object_or_404(selectors.runs(), pk=self.kwargs["pk"])
        params = self.request.query_params
        rows = selectors.discrepancies_visible_to(user=self.request.user).filter(run=run)
        if params.get("kind"):
            rows = rows.filter(kind=params["kind"])
        if params.get("hospital"):
            rows = rows.filter(hospital_code=params["hospital"])
        if params.get("state"):
            rows = rows.filter(state=params["state"])
        if params.get("province"):
            rows = rows.filter(Q(home_province=params["province"]) | Q(destination_province=params["province"]))
        return rows


def _discrepancy(pk: int) -> Discrepancy:
    # Not scoped here: the services answer 404 outside the user's province pair.
    return get_object_or_404(Discrepancy, pk=pk)


class DiscrepancyDisputeView(APIView):
    permission_classes = [ReadsMoney]

    @extend_schema(request=StepReasonSerializer, responses={200: DiscrepancySerializer}, summary="Dispute a discrepancy (either province)")
    def post(self, request: Request, pk: int) -> Response:
        payload = StepReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = services.discrepancy_dispute(discrepancy=_discrepancy(pk), user=request.user, reason=payload.validated_data["reason"])
        return Response(DiscrepancySerializer(row).data)


class DiscrepancyResolveView(APIView):
    permission_classes = [ReadsMoney]

    @extend_schema(
        request=ResolveSerializer, responses={200: DiscrepancySerializer}, summary="Propose a resolution (finance maker of either province)"
    )
    def post(self, request: Request, pk: int) -> Response:
        payload = ResolveSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        row = services.discrepancy_resolve(
            discrepancy=_discrepancy(pk),
            user=request.user,
            resolution=data["resolution"],
            amount_fen=data["amount_fen"],
            reason=data["reason"],
        )
        return Response(DiscrepancySerializer(row).data)


class DiscrepancyApproveView(APIView):
    permission_classes = [ReadsMoney]

    @extend_schema(
        request=OptionalReasonSerializer,
        responses={200: DiscrepancySerializer},
        summary="Approve a resolution (checker of the other province)",
    )
    def post(self, request: Request, pk: int) -> Response:
        payload = OptionalReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = services.discrepancy_approve(discrepancy=_discrepancy(pk), user=request.user, reason=payload.validated_data["reason"])
        return Response(DiscrepancySerializer(row).data)


def _compliance_rows(request: Request) -> tuple[str, str, list[dict[str, Any]]]:
    """(period, province, ranked rows) for the compliance report: a province-bound reader's own
    destination province (another: 403 wrong_province); without one, every province."""
    period = services.check_period(request.query_params.get("period", ""))
    asked = selectors.requested_province(request.query_params.get("province", ""))
    own = bound_province(request.user)
    if own and asked and asked != own:
        require_province(request.user, asked)
    province = own or asked
    return period, province, selectors.compliance_report(period=period, province=province)


class ComplianceView(APIView):
    """Hospitals of a destination province ranked by codings against a release not in force,
    lapsed local items billed and amount mismatches in the period's run in force."""

    permission_classes = [ReadsMoney]

    @extend_schema(
        parameters=[
            OpenApiParameter("period", str, required=True, description="YYYY-MM", pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$"),
            OpenApiParameter(
                "province",
                str,
                description="destination province (national readers; '' = every one)",
                pattern=province_code_pattern(optional=True),
            ),
            CURSOR_PARAMETER,
            PAGE_SIZE_PARAMETER,
        ],
        responses={200: ComplianceRowSerializer(many=True)},
        summary="Hospital compliance report",
    )
    def get(self, request: Request) -> Response:
        _period, _province, rows = _compliance_rows(request)
        return Response(paginate_list(request, [ComplianceRowSerializer(r).data for r in rows]))


class ComplianceCsvView(APIView):
    permission_classes = [ReadsMoney]

    @extend_schema(
        parameters=[
            OpenApiParameter("period", str, required=True, description="YYYY-MM", pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$"),
            OpenApiParameter("province", str, pattern=province_code_pattern(optional=True)),
        ],
        responses={(200, "text/csv"): bytes},
        summary="Hospital compliance report as CSV",
    )
    def get(self, request: Request) -> Any:
        period, province, rows = _compliance_rows(request)
        response = StreamingHttpResponse(selectors.compliance_csv(rows), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="compliance-{period}-{province or "all"}.csv"'
        return response
