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

from apps.core.api.pagination import IdCursorPagination
from apps.core.api.permissions import IsHospital, IsHospitalOrStaff
from apps.core.errors import ValidationFailed
from apps.core.permissions import CATALOG_EDITORS, require_role, staff_province, staff_role
from apps.core.principals import is_hospital
from apps.core.roles import PROVINCE_SCOPED_ROLES
from apps.hospitals import notice_selectors, notices
from apps.hospitals.models import Hospital, NoticeDelivery, WebhookEndpoint

from .notice_serializers import (
    AckOutSerializer,
    AckSerializer,
    DeliverySerializer,
    EndpointCreateSerializer,
    EndpointSerializer,
    EndpointWithSecretSerializer,
    ItemUsageSerializer,
    ReplaySerializer,
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
        parameters=[OpenApiParameter("after_seq", int), OpenApiParameter("page_size", int)],
        responses={
            200: inline_serializer("NoticePage", {"next": serializers.URLField(allow_null=True), "results": serializers.ListField()})
        },
        summary="This hospital's change notices after a sequence number (for missed webhooks)",
    )
    def get(self, request: Request) -> Response:
        after = _int_param(request, "after_seq", 0)
        size = min(max(_int_param(request, "page_size", 100), 1), MAX_PAGE)
        rows = notice_selectors.notices_after(hospital_id=_hospital_id(request), after_seq=after, limit=size + 1)
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
        ack, created = notices.release_acknowledge(hospital_id=_hospital_id(request), label=label, **payload.validated_data)
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
        count = notices.item_usage_replace(hospital_id=_hospital_id(request), codes=payload.validated_data["codes"])
        return Response({"count": count})


class EndpointListCreateView(APIView):
    permission_classes = [IsHospital]

    @extend_schema(responses={200: EndpointSerializer(many=True)}, summary="This hospital's webhook endpoints (secrets never shown)")
    def get(self, request: Request) -> Response:
        endpoints = WebhookEndpoint.objects.filter(hospital_id=_hospital_id(request)).order_by("id")
        return Response({"next": None, "results": EndpointSerializer(endpoints, many=True).data})

    @extend_schema(request=EndpointCreateSerializer, responses={201: EndpointWithSecretSerializer}, summary="Register a webhook endpoint")
    def post(self, request: Request) -> Response:
        payload = EndpointCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        hospital = Hospital.objects.get(pk=_hospital_id(request))
        endpoint, secret = notices.endpoint_create(hospital=hospital, **payload.validated_data)
        return Response(EndpointWithSecretSerializer(endpoint, context={"secret": secret}).data, status=status.HTTP_201_CREATED)


class EndpointRotateView(APIView):
    permission_classes = [IsHospital]

    @extend_schema(
        request=None, responses={200: EndpointWithSecretSerializer}, summary="New secret; the old one signs too during the overlap"
    )
    def post(self, request: Request, pk: int) -> Response:
        endpoint = WebhookEndpoint.objects.filter(hospital_id=_hospital_id(request), pk=pk).first()
        if endpoint is None:
            from apps.core.errors import NotFound

            raise NotFound(f"no webhook endpoint {pk}")
        secret = notices.endpoint_rotate_secret(endpoint=endpoint)
        endpoint.refresh_from_db()
        return Response(EndpointWithSecretSerializer(endpoint, context={"secret": secret}).data)


class DeliveryListView(APIView):
    permission_classes = [IsHospitalOrStaff]
    pagination_class = IdCursorPagination

    @extend_schema(parameters=[OpenApiParameter("state", str)], responses={200: DeliverySerializer(many=True)}, summary="Notice deliveries")
    def get(self, request: Request) -> Response:
        hospital_id = _hospital_id(request) if is_hospital(request.user) else None
        province = staff_province(request.user) if hospital_id is None and staff_role(request.user) in PROVINCE_SCOPED_ROLES else ""
        qs = notice_selectors.deliveries_for(
            hospital_id=hospital_id, state=request.query_params.get("state") or None, province_code=province
        )
        paginator = IdCursorPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(DeliverySerializer(page, many=True).data)


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
        summary="Replay failed deliveries (hospitals: their own; staff: any)",
    )
    def post(self, request: Request) -> Response:
        payload = ReplaySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        hospital_id = _hospital_id(request) if is_hospital(request.user) else None
        user = None if hospital_id is not None else request.user
        count = notices.deliveries_replay(delivery_ids=payload.validated_data["ids"], user=user, hospital_id=hospital_id)
        return Response({"replayed": count}, status=status.HTTP_202_ACCEPTED)


__all__ = ["NoticeDelivery"]
