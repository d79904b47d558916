"""A hospital's view of itself and of its own API keys (never another hospital's)."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.pagination import IdCursorPagination
from apps.core.api.permissions import IsHospital
from apps.core.errors import NotFound
from apps.core.principals import HospitalPrincipal
from apps.hospitals import selectors, services
from apps.hospitals.models import ApiKey

from .catalog_views import AUTH_ERRORS, error_response

KEY_UNKNOWN = error_response(404, "api_key_unknown", "you have no key with prefix Ab3dE6gH9k")


class MeSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="institution code")
    province = serializers.CharField()
    key_prefix = serializers.CharField(help_text="prefix of the key this request used")


class ApiKeySerializer(serializers.ModelSerializer[ApiKey]):
    revoked = serializers.BooleanField(source="is_revoked", read_only=True)

    class Meta:
        model = ApiKey
        fields = ["prefix", "name", "created_at", "last_used_at", "revoked", "revoked_at"]
        read_only_fields = fields


def _principal(request: Request) -> HospitalPrincipal:
    # IsHospital has let only API-key callers through
    return cast(HospitalPrincipal, request.user)


def _own_key(request: Request, prefix: str) -> ApiKey:
    key = selectors.hospital_keys(hospital_id=_principal(request).hospital_id).filter(prefix=prefix).first()
    if key is None:  # another hospital's key is as unknown as a key that does not exist
        raise NotFound(f"you have no key with prefix {prefix}", code="api_key_unknown")
    return key


@extend_schema(
    summary="Who this API key belongs to (a cheap way for a hospital system to test its key)",
    responses={
        200: OpenApiResponse(
            MeSerializer, examples=[OpenApiExample("me", value={"code": "H31010100001", "province": "310000", "key_prefix": "Ab3dE6gH9k"})]
        ),
        **AUTH_ERRORS,
    },
    tags=["hospital"],
)
class HospitalMeView(APIView):
    permission_classes = [IsHospital]

    def get(self, request: Request) -> Response:
        user = _principal(request)
        return Response({"code": user.institution_code, "province": user.province_code, "key_prefix": user.key_prefix})


@extend_schema(
    summary="This hospital's API keys (prefix, last use, revocation)",
    responses={200: ApiKeySerializer(many=True), **AUTH_ERRORS},
    tags=["hospital"],
)
class OwnKeyListView(generics.ListAPIView[ApiKey]):
    permission_classes = [IsHospital]
    serializer_class = ApiKeySerializer
    pagination_class = IdCursorPagination

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):
            return ApiKey.objects.none()
        return selectors.hospital_keys(hospital_id=_principal(self.request).hospital_id)


@extend_schema(
    summary="One of this hospital's API keys", responses={200: ApiKeySerializer, 404: KEY_UNKNOWN, **AUTH_ERRORS}, tags=["hospital"]
)
class OwnKeyDetailView(APIView):
    permission_classes = [IsHospital]

    def get(self, request: Request, prefix: str) -> Response:
        return Response(ApiKeySerializer(_own_key(request, prefix)).data)


@extend_schema(
    summary="Revoke one of this hospital's keys (e.g. a leaked one); idempotent",
    request=None,
    responses={200: ApiKeySerializer, 404: KEY_UNKNOWN, **AUTH_ERRORS},
    tags=["hospital"],
)
class OwnKeyRevokeView(APIView):
    permission_classes = [IsHospital]

    def post(self, request: Request, prefix: str) -> Response:
        key = services.api_key_revoke(key=_own_key(request, prefix), user=request.user, reason="revoked by the hospital")
        return Response(ApiKeySerializer(key).data)
