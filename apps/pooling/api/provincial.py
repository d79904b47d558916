"""Staff endpoints of provincial pooling: region figures, risk-adjustment runs, advance funds,
budgets and moves to unified collection and expenditure. Thin: the services check who may
write (role, province wall, two people), the selectors what a reader may see; readers are the
money readers (finance roles, provincial staff of their own province, auditors)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.benefits.models import PoolingRegion
from apps.benefits.selectors import province_by_code
from apps.core.api.jobs import JOB_QUEUED, job_queued
from apps.core.api.pagination import IdCursorPagination
from apps.core.api.permissions import ReadsMoney
from apps.core.errors import ValidationFailed
from apps.pooling import selectors, services
from apps.pooling.models import AdjustmentRun, PoolingBudget, PoolingModelChange, RegionPeriodFigures

from .provincial_serializers import (
    AdjustmentRunRequestSerializer,
    AdjustmentRunSerializer,
    AdvancePositionSerializer,
    BudgetDetailSerializer,
    BudgetSerializer,
    BudgetWriteSerializer,
    FiguresImportSerializer,
    FiguresSerializer,
    UnificationRequestSerializer,
    UnificationSerializer,
)

PERIOD_PARAM = OpenApiParameter("period", str, description="YYYY-MM")
PROVINCE_PARAM = OpenApiParameter("province", str, description="province code")


class FiguresListView(generics.ListAPIView[RegionPeriodFigures]):
    permission_classes = [ReadsMoney]
    serializer_class = FiguresSerializer
    pagination_class = IdCursorPagination

    @extend_schema(parameters=[PERIOD_PARAM, PROVINCE_PARAM], summary="Region figures (the inputs of risk adjustment)")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        figures = selectors.figures_visible_to(user=self.request.user)
        params = self.request.query_params
        if params.get("period"):
            figures = figures.filter(period=params["period"])
        if params.get("province"):
            figures = figures.filter(province__code=params["province"])
        return figures


class FiguresImportView(APIView):
    """Queue an import of region figures: multipart {file} → 202 with the job."""

    permission_classes = [ReadsMoney]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": FiguresImportSerializer}, responses={202: JOB_QUEUED}, summary="Import region figures (CSV)"
    )
    def post(self, request: Request) -> Response:
        payload = FiguresImportSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        job = services.figures_import_enqueue(upload=payload.validated_data["file"], user=request.user)
        return job_queued(request, job.pk)


class AdjustmentRunListView(generics.ListAPIView[AdjustmentRun]):
    permission_classes = [ReadsMoney]
    serializer_class = AdjustmentRunSerializer
    pagination_class = IdCursorPagination

    @extend_schema(parameters=[PERIOD_PARAM, PROVINCE_PARAM], summary="Risk-adjustment runs")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        runs = selectors.adjustment_runs_visible_to(user=self.request.user)
        params = self.request.query_params
        if params.get("period"):
            runs = runs.filter(period=params["period"])
        if params.get("province") == "national":
            runs = runs.filter(province__isnull=True)
        elif params.get("province"):
            runs = runs.filter(province__code=params["province"])
        return runs

    @extend_schema(
        request=AdjustmentRunRequestSerializer,
        responses={202: JOB_QUEUED},
        summary="Run the risk adjustment of a month (a province's regions, or without province the national level)",
    )
    def post(self, request: Request) -> Response:
        payload = AdjustmentRunRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        job = services.adjustment_request(period=data["period"], province_code=data["province"], user=request.user)
        return job_queued(request, job.pk)


class AdjustmentRunDetailView(generics.RetrieveAPIView[AdjustmentRun]):
    """A run with its formula, parameters and every unit's inputs and results."""

    permission_classes = [ReadsMoney]
    serializer_class = AdjustmentRunSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.adjustment_runs_visible_to(user=self.request.user)


class AdvanceListView(APIView):
    """Each visible province's advance (预付金): balance, projection, threshold and target."""

    permission_classes = [ReadsMoney]

    @extend_schema(responses={200: AdvancePositionSerializer(many=True)}, summary="Advance funds at the national clearing account")
    def get(self, request: Request) -> Response:
        rows = selectors.advance_positions(user=request.user)
        return Response({"next": None, "results": AdvancePositionSerializer(rows, many=True).data})


class BudgetListView(generics.ListAPIView[PoolingBudget]):
    permission_classes = [ReadsMoney]
    serializer_class = BudgetSerializer
    pagination_class = IdCursorPagination

    @extend_schema(
        parameters=[OpenApiParameter("year", {"type": "integer", "minimum": 1900, "maximum": 9999}), PROVINCE_PARAM],
        summary="Budgets of provinces and pooling regions",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        budgets = selectors.budgets_visible_to(user=self.request.user)
        params = self.request.query_params
        year = params.get("year", "")
        if year:
            if not (year.isascii() and year.isdigit() and 1900 <= int(year) <= 9999):
                raise ValidationFailed("year: a year such as 2026", errors=[{"field": "year", "code": "invalid", "message": year[:16]}])
            budgets = budgets.filter(year=int(year))
        if params.get("province"):
            budgets = budgets.filter(province__code=params["province"])
        return budgets

    @extend_schema(
        request=BudgetWriteSerializer, responses={200: BudgetDetailSerializer}, summary="Set a year's budget (idempotent per unit and year)"
    )
    def post(self, request: Request) -> Response:
        payload = BudgetWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        province = province_by_code(data["province"])
        region = None
        if data["region"]:
            region = PoolingRegion.objects.filter(code=data["region"], province=province).first()
            if region is None:
                raise ValidationFailed(
                    f"no pooling region {data['region']} in {province.code}",
                    errors=[{"field": "region", "code": "unknown_region", "message": data["region"]}],
                )
        budget = services.budget_save(
            province=province,
            region=region,
            year=data["year"],
            expenditure_fen=data["expenditure_fen"],
            cross_regional_fen=data["cross_regional_fen"],
            alert_ratio=data.get("alert_ratio"),
            user=request.user,
            reason=data["reason"],
        )
        return Response(BudgetDetailSerializer(budget).data, status=status.HTTP_200_OK)


class BudgetDetailView(generics.RetrieveAPIView[PoolingBudget]):
    """A budget with its twelve months: budget, actual, both cumulated."""

    permission_classes = [ReadsMoney]
    serializer_class = BudgetDetailSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.budgets_visible_to(user=self.request.user)


class UnificationCreateView(APIView):
    permission_classes = [ReadsMoney]

    @extend_schema(
        request=UnificationRequestSerializer,
        responses={201: UnificationSerializer},
        summary="Start moving a province to unified collection and expenditure (proposes the consolidation transfers)",
    )
    def post(self, request: Request) -> Response:
        payload = UnificationRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        province = province_by_code(payload.validated_data["province"])
        change = services.unification_propose(province=province, user=request.user, reason=payload.validated_data["reason"])
        return Response(UnificationSerializer(change).data, status=status.HTTP_201_CREATED)


class UnificationDetailView(generics.RetrieveAPIView[PoolingModelChange]):
    permission_classes = [ReadsMoney]
    serializer_class = UnificationSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.pooling_changes_visible_to(user=self.request.user)


class UnificationCompleteView(APIView):
    permission_classes = [ReadsMoney]

    @extend_schema(request=None, responses={200: UnificationSerializer}, summary="Complete the move (a second person, finance checker)")
    def post(self, request: Request, pk: int) -> Response:
        # Not scoped by visibility: the service answers 403 wrong_province, as for transfers.
        change = services.unification_complete(change=get_object_or_404(PoolingModelChange, pk=pk), user=request.user)
        return Response(UnificationSerializer(change).data)
