"""Notices API (API.md "Hospitals and notices"). Thin: parse, call a service or selector, render.
A hospital only ever sees its own notices, deliveries, endpoints and acknowledgements."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.pagination import IdCursorPagination, page_size_of
from apps.core.api.permissions import IsHospital, IsHospitalOrStaff
from apps.core.errors import NotFound, ValidationFailed
from apps.core.permissions import CATALOG_EDITORS, require_role, staff_province, staff_role
from apps.core.principals import is_hospital
from apps.core.roles import PROVINCE_SCOPED_ROLES
from apps.hospitals.models import Hospital
from apps.notices import selectors, services
from apps.notices.models import WebhookEndpoint

from .serializers import (
    AckOutSerializer,
    AckSerializer,
    DeliverySerializer,
    EndpointCreateSerializer,
    EndpointSerializer,
    EndpointUpdateSerializer,
    EndpointWithSecretSerializer,
    ItemUsageSerializer,
    PingResultSerializer,
    ReplaySerializer,
    RotateSerializer,
    StaffDeliverySerializer,
)

MAX_PAGE = 1000


def _hospital_id(request: Request) -> int:
    user: Any = request.user
    return int(user.hospital_id)


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be an integer", errors=[{"field": name, "code": "invalid"}]) from None
    if value < 0:
        raise ValidationFailed(f"{name} must be ≥ 0", errors=[{"field": name, "code": "invalid"}])
    return value


class NoticeListView(APIView):
    permission_classes = [IsHospital]

    @extend_schema(
        parameters=[OpenApiParameter("after_seq", {"type": "integer", "minimum": 0}), OpenApiParameter("page_size", int)],
        responses={
            200: inline_serializer("NoticePage", {"next": serializers.URLField(allow_null=True), "results": serializers.ListField()})
        },
        summary="This hospital's change notices after a sequence number (for missed webhooks)",
    )
    def get(self, request: Request) -> Response:
        after = _int_param(request, "after_seq", 0)
        size = page_size_of(request, maximum=MAX_PAGE)
        rows = selectors.notices_after(hospital_id=_hospital_id(request), after_seq=after, limit=size + 1)
        more = len(rows) > size
        rows = rows[:size]
        next_url = None
        if more:
            next_url = request.build_absolute_uri(f"{request.path}?after_seq={rows[-1]['seq']}&page_size={size}")
        return Response({"next": next_url, "results": rows})


class ReleaseAckView(APIView):
    permission_classes = [IsHospital]

    @extend_schema(request=AckSerializer, responses={200: AckOutSerializer, 201: AckOutSerializer}, summary="We loaded this release")
    def post(self, request: Request, label: str) -> Response:
        payload = AckSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        ack, created = services.release_acknowledge(hospital_id=_hospital_id(request), label=label, **payload.validated_data)
        return Response(AckOutSerializer(ack).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ItemUsageView(APIView):
    permission_classes = [IsHospital]

    @extend_schema(
        request=ItemUsageSerializer,
        responses={200: inline_serializer("ItemUsageOut", {"count": serializers.IntegerField()})},
        summary="Replace the codes this hospital billed recently (makes notices list affected items)",
    )
    def put(self, request: Request) -> Response:
        payload = ItemUsageSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        count = services.item_usage_replace(hospital_id=_hospital_id(request), codes=payload.validated_data["codes"])
        return Response({"count": count})


class _EndpointPage(IdCursorPagination):
    ordering = "id"


def _own_endpoint(request: Request, pk: int) -> WebhookEndpoint:
    """The caller's endpoint; another hospital's id is 404, exactly as an id that does not exist."""
    endpoint = selectors.endpoint_of(hospital_id=_hospital_id(request), endpoint_id=pk)
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {pk}")
    return endpoint


class EndpointListCreateView(APIView):
    permission_classes = [IsHospital]

    @extend_schema(responses={200: EndpointSerializer(many=True)}, summary="This hospital's webhook endpoints (secrets never shown)")
    def get(self, request: Request) -> Response:
        paginator = _EndpointPage()
        page = paginator.paginate_queryset(selectors.endpoints_of(hospital_id=_hospital_id(request)), request, view=self)
        return paginator.get_paginated_response(EndpointSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(
        request=EndpointCreateSerializer,
        responses={201: EndpointWithSecretSerializer},
        summary="Register a webhook endpoint (400 webhook_url_not_public; 409 webhook_endpoint_limit)",
    )
    def post(self, request: Request) -> Response:
        payload = EndpointCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        hospital = Hospital.objects.get(pk=_hospital_id(request))
        endpoint, secret = services.endpoint_create(hospital=hospital, user=request.user, **payload.validated_data)
        body = EndpointWithSecretSerializer(endpoint, context={"secret": secret, "request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class EndpointDetailView(APIView):
    permission_classes = [IsHospital]

    @extend_schema(responses={200: EndpointSerializer}, summary="One of this hospital's webhook endpoints")
    def get(self, request: Request, pk: int) -> Response:
        return Response(EndpointSerializer(_own_endpoint(request, pk), context={"request": request}).data)

    @extend_schema(request=EndpointUpdateSerializer, responses={200: EndpointSerializer}, summary="Change URL, event types or active")
    def patch(self, request: Request, pk: int) -> Response:
        endpoint = _own_endpoint(request, pk)
        payload = EndpointUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(endpoint=endpoint, user=request.user, **payload.validated_data)
        return Response(EndpointSerializer(endpoint, context={"request": request}).data)

    @extend_schema(request=None, responses={204: None}, summary="Delete (deliveries stay on record)")
    def delete(self, request: Request, pk: int) -> Response:
        services.endpoint_delete(endpoint=_own_endpoint(request, pk), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateView(APIView):
    permission_classes = [IsHospital]

    @extend_schema(
        request=RotateSerializer,
        responses={200: EndpointWithSecretSerializer},
        summary="New secret; the old one signs too for 24 h unless retire_old_now",
    )
    def post(self, request: Request, pk: int) -> Response:
        endpoint = _own_endpoint(request, pk)
        payload = RotateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        secret = services.endpoint_rotate_secret(
            endpoint=endpoint, user=request.user, retire_old_now=payload.validated_data["retire_old_now"]
        )
        endpoint.refresh_from_db()
        return Response(EndpointWithSecretSerializer(endpoint, context={"secret": secret, "request": request}).data)


class EndpointTestView(APIView):
    permission_classes = [IsHospital]

    @extend_schema(request=None, responses={200: PingResultSerializer}, summary="Send a signed test.ping now and say what happened")
    def post(self, request: Request, pk: int) -> Response:
        result = services.endpoint_test_ping(endpoint=_own_endpoint(request, pk))
        return Response(PingResultSerializer(result).data)


class DeliveryListView(APIView):
    permission_classes = [IsHospitalOrStaff]
    pagination_class = IdCursorPagination

    @extend_schema(parameters=[OpenApiParameter("state", str)], responses={200: DeliverySerializer(many=True)}, summary="Notice deliveries")
    def get(self, request: Request) -> Response:
        hospital_id = _hospital_id(request) if is_hospital(request.user) else None
        province = staff_province(request.user) if hospital_id is None and staff_role(request.user) in PROVINCE_SCOPED_ROLES else ""
        qs = selectors.deliveries_for(hospital_id=hospital_id, state=request.query_params.get("state") or None, province_code=province)
        paginator = IdCursorPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        serializer = DeliverySerializer if hospital_id is not None else StaffDeliverySerializer
        return paginator.get_paginated_response(serializer(page, many=True).data)


class _ReplayPermission(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        if is_hospital(request.user):
            return True
        require_role(request.user, *CATALOG_EDITORS)
        return True


class DeliveryReplayView(APIView):
    permission_classes = [IsHospitalOrStaff, _ReplayPermission]

    @extend_schema(
        request=ReplaySerializer,
        responses={202: inline_serializer("ReplayOut", {"replayed": serializers.IntegerField()})},
        summary="Replay failed deliveries, at most 1,000 ids a call (hospitals: their own; staff: any)",
    )
    def post(self, request: Request) -> Response:
        payload = ReplaySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        hospital_id = _hospital_id(request) if is_hospital(request.user) else None
        user = None if hospital_id is not None else request.user
        count = services.deliveries_replay(delivery_ids=payload.validated_data["ids"], user=user, hospital_id=hospital_id)
        return Response({"replayed": count}, status=status.HTTP_202_ACCEPTED)
