"""``POST /api/v1/auth/token/`` (username, password, one-time code → a staff token) and
``DELETE /api/v1/auth/token/`` (revoke the token this request carries)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core import services
from apps.core.errors import ValidationFailed
from apps.core.models import StaffToken

from .auth import StaffTokenAuthentication
from .schema import error_response


class TokenRequestSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    otp = serializers.CharField(max_length=16, required=False, allow_blank=True)


TOKEN_ISSUED = inline_serializer("StaffTokenIssued", {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()})


class _PostOpenDeleteWithToken(permissions.BasePermission):
    def schema_callers_for(self, method: str) -> tuple[str, ...]:
        return ("anonymous", "staff") if method == "POST" else ("staff",)

    def has_permission(self, request: Any, view: Any) -> bool:
        return request.method == "POST" or isinstance(request.auth, StaffToken)


class StaffTokenView(APIView):
    # POST needs no credentials; a browser that is logged in still gets DRF's CSRF check from the
    # session class (so no page can mint tokens through a staff member's session). DELETE acts on
    # the token the request carries, never on a session.
    authentication_classes = [StaffTokenAuthentication, SessionAuthentication]
    permission_classes = [_PostOpenDeleteWithToken]

    @extend_schema(
        summary="Obtain a staff token (add otp when you enrolled a TOTP device and will approve)",
        request=TokenRequestSerializer,
        responses={
            200: TOKEN_ISSUED,
            401: error_response(401, "not_authenticated", "wrong user name, password or one-time code"),
            429: error_response(429, "locked_out", "too many failed logins; try again later"),
        },
    )
    def post(self, request: Request) -> Response:
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.staff_token_login(
            request=request._request,  # django-axes reads the client address and records the attempt on it
            username=data.validated_data["username"],
            password=data.validated_data["password"],
            otp=data.validated_data.get("otp", ""),
        )
        return Response({"token": issued.token, "expires_at": issued.expires_at})

    @extend_schema(summary="Revoke the staff token this request carries", request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        if not isinstance(request.auth, StaffToken):  # pragma: no cover - the permission refuses first
            raise ValidationFailed("send the token to revoke in the Authorization header")
        services.staff_token_revoke(token=request.auth, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
