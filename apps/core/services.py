"""Writes on staff users: every role change goes through here so history and groups agree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, user_logged_in, user_login_failed
from django.contrib.auth.models import Group
from django.db import transaction
from django.http import HttpRequest
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .audit import audit_record, history_save
from .codes import CodeError, validate_province_code
from .errors import Forbidden, LockedOut, NotAuthenticated, ValidationFailed
from .models import AuditAction, StaffProfile, StaffToken
from .otp import otp_devices, otp_verify
from .permissions import has_role, staff_province
from .roles import PROVINCE_REQUIRED_ROLES, Role


@transaction.atomic
def staff_create(*, username: str, role: str, province_code: str = "", password: str | None = None, actor: Any = None) -> Any:
    """Create a staff user with one role. province_staff need a valid province code; finance
    roles without one are national (they start reconciliation runs, approve national-fund debits).

    Raises ValidationFailed for an unknown role, a missing/invalid province or a taken username.
    """
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValidationFailed(format_lazy(_("user {username!r} exists already"), username=username))
    user = User(username=username, is_staff=True)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    profile = _set_role(user=user, role=role, province_code=province_code, actor=actor, reason="created")
    audit_record(
        action=AuditAction.STAFF_CREATED,
        actor=actor,
        obj=user,
        province=profile.province_code,
        detail={"role": role, "province": profile.province_code},
    )
    return user


@transaction.atomic
def staff_set_role(*, user: Any, role: str, province_code: str = "", reason: str = "", actor: Any = None) -> StaffProfile:
    """Give ``user`` exactly one role (recorded in history and the audit log with ``reason``)."""
    before = StaffProfile.objects.filter(user=user).values("role", "province_code").first()
    profile = _set_role(user=user, role=role, province_code=province_code, actor=actor, reason=reason)
    audit_record(
        action=AuditAction.STAFF_ROLE_CHANGED,
        actor=actor,
        obj=user,
        province=profile.province_code,
        reason=reason,
        detail={"before": before, "role": role, "province": profile.province_code},
    )
    return profile


def _set_role(*, user: Any, role: str, province_code: str, actor: Any, reason: str) -> StaffProfile:
    if role not in Role.values:
        raise ValidationFailed(format_lazy(_("unknown role {role!r}; one of {choices}"), role=role, choices=", ".join(Role.values)))
    if role in PROVINCE_REQUIRED_ROLES and not province_code:
        raise ValidationFailed(format_lazy(_("role {role} needs --province"), role=role))
    if province_code:
        try:
            province_code = validate_province_code(province_code)
        except CodeError as exc:
            raise ValidationFailed(format_lazy(_("province: {reason}"), reason=exc.reason)) from exc
    profile = StaffProfile.objects.filter(user=user).first() or StaffProfile(user=user)
    profile.role = role
    profile.province_code = province_code
    history_save(profile, user=actor, reason=reason)
    group, _created = Group.objects.get_or_create(name=role)
    user.groups.set([group])
    return profile


# --- staff API tokens (django-rest-knox) ---------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the plain token, shown once and never stored
    expires_at: dt.datetime
    row: StaffToken


def _token_id(row: StaffToken) -> str:
    # Names the token in the audit log without any part of the secret (the digest is one-way).
    return row.digest[:16]


@transaction.atomic
def staff_token_create(*, user: Any, via: str, otp_verified: bool = False, actor: Any = None) -> IssuedToken:
    """Issue a new staff token for ``user``: stored as its SHA-512 digest, valid for
    ``STAFF_TOKEN_TTL``, ``otp_verified`` when her one-time code was checked just before.
    Other tokens of the user keep working (one per client); each is revoked on its own.

    Raises Forbidden (permission_denied) for a user without a staff role or an inactive user."""
    if not getattr(user, "is_active", False) or not has_role(user, *Role.values):
        raise Forbidden(_("staff API tokens are issued to active staff users only"))
    row, token = StaffToken.objects.create(user=user, expiry=settings.STAFF_TOKEN_TTL, otp_verified=otp_verified)
    audit_record(
        action=AuditAction.STAFF_TOKEN_ISSUED,
        actor=actor if actor is not None else user,
        obj=user,
        province=staff_province(user),
        detail={"token": _token_id(row), "via": via, "otp_verified": otp_verified, "expires_at": row.expiry.isoformat()},
    )
    return IssuedToken(token=token, expires_at=row.expiry, row=row)


def token_issue(*, user: Any) -> str:
    """A new API token for ``user`` (shown once): what ``issue_token USERNAME`` prints."""
    return staff_token_create(user=user, via="command").token


def staff_token_login(*, request: HttpRequest, username: str, password: str, otp: str = "") -> IssuedToken:
    """``POST /api/v1/auth/token/``: check the password (django-axes counts failures and locks the
    username from the client's address, see apps.core.clientip) and, when given, the one-time
    code; then issue a token that remembers whether the code was checked.

    Raises LockedOut (429 locked_out) while axes locks this username and address out;
    NotAuthenticated (401 not_authenticated) for a wrong password or a wrong one-time code (a
    wrong code counts as a failed login); ValidationFailed when ``otp`` is sent by a user
    without a TOTP device; Forbidden for a user without a staff role."""
    user = authenticate(request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        raise LockedOut(_("too many failed logins for this user from your address; try again later"))
    if user is None:
        raise NotAuthenticated(_("wrong username or password"))
    verified = False
    if otp:
        if not otp_devices(user):
            raise ValidationFailed(_("this user has no TOTP device"), errors=[{"field": "otp", "code": "invalid", "message": "no device"}])
        outcome = otp_verify(user=user, code=otp)
        if outcome != "ok":
            user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
            if getattr(request, "axes_locked_out", False):
                raise LockedOut(_("too many failed logins for this user from your address; try again later"))
            raise NotAuthenticated(
                "the one-time code is wrong or expired" if outcome == "invalid" else "too many wrong codes; wait a moment"
            )
        verified = True
    issued = staff_token_create(user=user, via="api", otp_verified=verified)
    # A successful login: axes clears this address's failures, Django records last_login.
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    return issued


@transaction.atomic
def staff_token_revoke(*, token: StaffToken, actor: Any, reason: str = "revoked by its holder") -> None:
    """Revoke one staff token at once (the row is deleted, so the next request with it is 401)."""
    deleted, _ = StaffToken.objects.filter(digest=token.digest).delete()
    if not deleted:
        return  # revoked concurrently: that revocation wrote the event
    audit_record(
        action=AuditAction.STAFF_TOKEN_REVOKED,
        actor=actor,
        obj=token.user,
        province=staff_province(token.user),
        reason=reason,
        detail={"token": _token_id(token)},
    )
