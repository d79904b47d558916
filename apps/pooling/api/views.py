"""Staff endpoints for fund accounts and transfers (API.md, "Pooling and reconciliation"). Thin.

Every view is for the money allow-list (``ReadsMoney``: finance roles, province_staff, auditors;
catalog roles get 403); the selectors keep province-bound readers to their own province."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.fields import NOT_ONLY_SPACES
from apps.core.api.pagination import IdCursorPagination
from apps.core.api.permissions import ReadsMoney
from apps.core.errors import ValidationFailed
from apps.core.pdf import PDF_CONTENT_TYPE, render_pdf
from apps.pooling import selectors, services
from apps.pooling.models import FundAccount, LedgerEntry, Transfer

from .serializers import (
    AccountSerializer,
    EntrySerializer,
    ReasonSerializer,
    StatementQuerySerializer,
    StatementSerializer,
    TransferProposeSerializer,
    TransferSerializer,
)


class AccountPagination(IdCursorPagination):
    ordering = "id"


class AccountListView(generics.ListAPIView[FundAccount]):
    permission_classes = [ReadsMoney]
    serializer_class = AccountSerializer
    pagination_class = AccountPagination

    @extend_schema(
        parameters=[
            OpenApiParameter("province", str, description="province code"),
            OpenApiParameter("kind", str, description="national | provincial | regional | external"),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        accounts = selectors.accounts_visible_to(user=self.request.user)
        params = self.request.query_params
        if params.get("province"):
            accounts = accounts.filter(province__code=params["province"])
        if params.get("kind"):
            accounts = accounts.filter(kind=params["kind"])
        return accounts


class AccountDetailView(generics.RetrieveAPIView[FundAccount]):
    permission_classes = [ReadsMoney]
    serializer_class = AccountSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.accounts_visible_to(user=self.request.user)


class AccountEntriesView(generics.ListAPIView[LedgerEntry]):
    permission_classes = [ReadsMoney]
    serializer_class = EntrySerializer
    pagination_class = IdCursorPagination

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return LedgerEntry.objects.none()
        account = get_object_or_404(selectors.accounts_visible_to(user=self.request.user), pk=self.kwargs["pk"])
        return selectors.entries_visible_to(user=self.request.user).filter(account=account)


class AccountStatementView(APIView):
    """An account's statement over a date range: JSON, CSV or PDF (``?format=``). A province-bound
    reader reads her own province's accounts only (others 404); catalog roles 403."""

    permission_classes = [ReadsMoney]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[Any, str]:
        # ?format= names the statement's file type here, not a DRF renderer; errors stay JSON.
        return JSONRenderer(), JSONRenderer.media_type

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, required=True, description="first day (portal time zone)"),
            OpenApiParameter("to", OpenApiTypes.DATE, required=True, description="last day, included; at most one year after from"),
            OpenApiParameter("format", str, enum=["json", "csv", "pdf"], description="json (default), csv or pdf"),
        ],
        responses={200: StatementSerializer, (200, "text/csv"): bytes, (200, PDF_CONTENT_TYPE): bytes},
        summary="Account statement (opening balance, entries, closing balance)",
    )
    def get(self, request: Request, pk: int) -> Any:
        account = get_object_or_404(selectors.statement_accounts_visible_to(user=request.user), pk=pk)
        query = StatementQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        statement = selectors.account_statement(account=account, date_from=params["from"], date_to=params["to"])
        name = f"statement-{account.pk}-{params['from']:%Y%m%d}-{params['to']:%Y%m%d}"
        if params["format"] == "csv":
            response = HttpResponse(selectors.account_statement_csv(statement=statement), content_type="text/csv; charset=utf-8")
        elif params["format"] == "pdf":
            entries = selectors.statement_entries_shown(statement=statement)
            pdf = render_pdf(
                template="statements/account_statement.html", context={"statement": statement, "account": account, "entries": entries}
            )
            response = HttpResponse(pdf, content_type=PDF_CONTENT_TYPE)
        else:
            return Response(StatementSerializer(statement).data)
        response["Content-Disposition"] = f'attachment; filename="{name}.{params["format"]}"'
        return response


class TransferListCreateView(generics.ListAPIView[Transfer]):
    permission_classes = [ReadsMoney]
    serializer_class = TransferSerializer
    pagination_class = IdCursorPagination

    def get_queryset(self):  # type: ignore[no-untyped-def]
        transfers = selectors.transfers_visible_to(user=self.request.user)
        state = self.request.query_params.get("state")
        return transfers.filter(state=state) if state else transfers

    @extend_schema(
        request=TransferProposeSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {"type": "string", "pattern": NOT_ONLY_SPACES, "maxLength": 128},
                location=OpenApiParameter.HEADER,
                required=True,
            )
        ],
        responses={201: TransferSerializer, 200: TransferSerializer},
        summary="Propose a transfer (idempotent per Idempotency-Key)",
    )
    def post(self, request: Request) -> Response:
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            raise ValidationFailed(
                "the Idempotency-Key header is required",
                errors=[{"field": "Idempotency-Key", "code": "required", "message": "send a unique key per intended transfer"}],
            )
        payload = TransferProposeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        proposal = services.transfer_propose_detailed(proposer=request.user, idempotency_key=key, **payload.validated_data)
        return Response(
            TransferSerializer(proposal.transfer).data, status=status.HTTP_201_CREATED if proposal.created else status.HTTP_200_OK
        )


class TransferDetailView(generics.RetrieveAPIView[Transfer]):
    permission_classes = [ReadsMoney]
    serializer_class = TransferSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.transfers_visible_to(user=self.request.user)


def _transfer(pk: int) -> Transfer:
    # Not scoped by visibility: the services answer 403 wrong_province, which says more than 404.
    return get_object_or_404(Transfer, pk=pk)


class TransferApproveView(APIView):
    permission_classes = [ReadsMoney]

    @extend_schema(request=None, responses={200: TransferSerializer}, summary="Approve and post (maker-checker)")
    def post(self, request: Request, pk: int) -> Response:
        transfer = services.transfer_approve(transfer=_transfer(pk), approver=request.user)
        return Response(TransferSerializer(transfer).data)


class TransferRejectView(APIView):
    permission_classes = [ReadsMoney]

    @extend_schema(request=ReasonSerializer, responses={200: TransferSerializer})
    def post(self, request: Request, pk: int) -> Response:
        payload = ReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        transfer = services.transfer_reject(transfer=_transfer(pk), user=request.user, reason=payload.validated_data["reason"])
        return Response(TransferSerializer(transfer).data)


class TransferVoidView(APIView):
    permission_classes = [ReadsMoney]

    @extend_schema(request=ReasonSerializer, responses={200: TransferSerializer})
    def post(self, request: Request, pk: int) -> Response:
        payload = ReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        transfer = services.transfer_void(transfer=_transfer(pk), user=request.user, reason=payload.validated_data["reason"])
        return Response(TransferSerializer(transfer).data)


class TransferReverseView(APIView):
    permission_classes = [ReadsMoney]

    @extend_schema(request=ReasonSerializer, responses={201: TransferSerializer}, summary="Propose the reversal of a posted transfer")
    def post(self, request: Request, pk: int) -> Response:
        payload = ReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        transfer = services.transfer_reverse(transfer=_transfer(pk), user=request.user, reason=payload.validated_data["reason"])
        return Response(TransferSerializer(transfer).data, status=status.HTTP_201_CREATED)
