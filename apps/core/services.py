"""Writes on staff users: every role change goes through here so history and groups agree."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from rest_framework.authtoken.models import Token

from .codes import CodeError, validate_province_code
from .errors import ValidationFailed
from .models import StaffProfile
from .roles import PROVINCE_SCOPED_ROLES, Role


@transaction.atomic
def staff_create(*, username: str, role: str, province_code: str = "", password: str | None = None) -> Any:
    """Create a staff user with one role. Provincial roles need a valid province code.

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
    staff_set_role(user=user, role=role, province_code=province_code, reason="created")
    return user


@transaction.atomic
def staff_set_role(*, user: Any, role: str, province_code: str = "", reason: str = "") -> StaffProfile:
    """Give ``user`` exactly one role (recorded in history with ``reason``)."""
    if role not in Role.values:
        raise ValidationFailed(f"unknown role {role!r}; one of {', '.join(Role.values)}")
    if role in PROVINCE_SCOPED_ROLES and not province_code:
        raise ValidationFailed(f"role {role} needs --province")
    if province_code:
        try:
            province_code = validate_province_code(province_code)
        except CodeError as exc:
            raise ValidationFailed(f"province: {exc.reason}") from exc
    profile = StaffProfile.objects.filter(user=user).first() or StaffProfile(user=user)
    profile.role = role
    profile.province_code = province_code
    profile._change_reason = reason  # type: ignore[attr-defined]  # read by simple-history
    profile.save()
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.set([group])
    return profile


def token_issue(*, user: Any) -> str:
    """Replace the user's API token with a new one and return it (shown once)."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user).key
