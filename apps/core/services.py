"""Writes on staff users: every role change goes through here so history and groups agree."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from rest_framework.authtoken.models import Token

from .audit import audit_record, history_save
from .codes import CodeError, validate_province_code
from .errors import ValidationFailed
from .models import AuditAction, StaffProfile
from .roles import PROVINCE_REQUIRED_ROLES, Role


@transaction.atomic
def staff_create(*, username: str, role: str, province_code: str = "", password: str | None = None, actor: Any = None) -> Any:
    """Create a staff user with one role. province_staff need a valid province code; finance
    roles without one are national (they start reconciliation runs, approve national-fund debits).

    Raises ValidationFailed for an unknown role, a missing/invalid province or a taken username.
    """
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValidationFailed(f"user {username!r} exists already")
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
        raise ValidationFailed(f"unknown role {role!r}; one of {', '.join(Role.values)}")
    if role in PROVINCE_REQUIRED_ROLES and not province_code:
        raise ValidationFailed(f"role {role} needs --province")
    if province_code:
        try:
            province_code = validate_province_code(province_code)
        except CodeError as exc:
            raise ValidationFailed(f"province: {exc.reason}") from exc
    profile = StaffProfile.objects.filter(user=user).first() or StaffProfile(user=user)
    profile.role = role
    profile.province_code = province_code
    history_save(profile, user=actor, reason=reason)
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.set([group])
    return profile


def token_issue(*, user: Any) -> str:
    """Replace the user's API token with a new one and return it (shown once)."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user).key
