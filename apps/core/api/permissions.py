from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from apps.core.permissions import has_role
from apps.core.roles import Role


class IsStaffMember(BasePermission):
    """Any portal staff role (or a superuser). Hospitals and plain users are refused."""

    message = "staff only"

    def has_permission(self, request: Any, view: Any) -> bool:
        return has_role(request.user, *Role.values)
