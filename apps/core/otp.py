"""Second factor for the people who move money: a finance checker who enrolled a TOTP device
approves (and rejects or voids) only when her request is OTP-verified.

Verified means: a session that passed the code on the admin login (django-otp's middleware gives
the user ``is_verified()``), or a staff token issued after a code check (``StaffToken.otp_verified``,
which ``StaffTokenAuthentication`` hands on as the same ``is_verified()``). Services call
``require_otp`` wherever a checker approves, so the API, the admin, commands and tasks all meet
the one rule; a user loaded from the database by a command or task is not verified.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from .errors import Forbidden
from .roles import Role


def otp_devices(user: Any) -> list[TOTPDevice]:
    """The user's confirmed TOTP devices."""
    if getattr(user, "pk", None) is None:
        return []
    return list(TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk"))


def otp_required(user: Any) -> bool:
    """A finance checker (she approves money moves) with a confirmed TOTP device must pass OTP;
    other staff, and checkers who have not enrolled, act with their password or token."""
    profile = getattr(user, "staff_profile", None)
    if profile is None or profile.role != Role.FINANCE_CHECKER:
        return False
    return bool(otp_devices(user))


def otp_verified(user: Any) -> bool:
    """Did this request's credentials pass a one-time code (session or token)?"""
    is_verified = getattr(user, "is_verified", None)
    return bool(callable(is_verified) and is_verified())


def otp_verify(*, user: Any, code: str) -> str:
    """Check ``code`` against the user's devices (django-otp's throttling applies): "ok",
    "invalid" (wrong or expired code, or no device) or "throttled" (too many wrong codes)."""
    code = (code or "").strip()
    for device in otp_devices(user):
        allowed, _detail = device.verify_is_allowed()
        if not allowed:
            return "throttled"
        if code and device.verify_token(code):
            return "ok"
    return "invalid"


def mark_otp_verified(user: Any, verified: bool = True) -> Any:
    """Give ``user`` the ``is_verified()`` that django-otp's middleware gives a session user."""
    user.is_verified = lambda: verified
    return user


def require_otp(user: Any) -> None:
    """Raise 403 ``otp_required`` when ``user`` must pass OTP and this request did not."""
    if otp_required(user) and not otp_verified(user):
        raise Forbidden(
            _("you enrolled a TOTP device: approve from an OTP-verified session, or with a token requested with your one-time code (otp)"),
            code="otp_required",
        )
