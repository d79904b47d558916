"""``Authorization: Token <token>`` for staff: django-rest-knox tokens (hashed, expiring,
revocable; the model is ``core.StaffToken``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from rest_framework.request import Request

from apps.core.otp import mark_otp_verified


class StaffTokenAuthentication(TokenAuthentication):  # type: ignore[misc]
    """knox's token check (constant-time digest comparison; an expired token is deleted and
    refused), plus the token's OTP verdict as ``user.is_verified()`` so ``apps.core.otp``
    treats a token issued after a code check like an OTP-verified session."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        return mark_otp_verified(user, bool(token.otp_verified)), token


class StaffTokenAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "apps.core.api.auth.StaffTokenAuthentication"
    name = "StaffToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Staff token: `Authorization: Token <token>` (POST /api/v1/auth/token/ or `manage.py issue_token`); expires after STAFF_TOKEN_TTL.",
        }
