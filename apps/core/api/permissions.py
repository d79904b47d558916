from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from apps.core.permissions import has_role, reads_money
from apps.core.principals import is_hospital
from apps.core.roles import Role


class IsStaffMember(BasePermission):
    """Any portal staff role (or a superuser). Hospitals and plain users are refused."""

    message = "staff only"
    schema_callers = ("staff",)  # the OpenAPI security of views using it (apps.core.api.schema)

    def has_permission(self, request: Any, view: Any) -> bool:
        return has_role(request.user, *Role.values)


class IsHospital(BasePermission):
    """A request authenticated with a hospital API key."""

    message = "hospital API key required"
    schema_callers = ("hospital",)

    def has_permission(self, request: Any, view: Any) -> bool:
        return is_hospital(request.user)


class IsHospitalOrStaff(BasePermission):
    message = "hospital API key or staff login required"
    schema_callers = ("hospital", "staff")

    def has_permission(self, request: Any, view: Any) -> bool:
        return is_hospital(request.user) or has_role(request.user, *Role.values)


class ReadsMoney(BasePermission):
    """Staff on the money allow-list (``apps.core.permissions.MONEY_READERS``); others 403."""

    message = "fund accounts, ledgers, transfers and reconciliation results are read by finance, provincial staff and auditors"
    schema_callers = ("staff",)

    def has_permission(self, request: Any, view: Any) -> bool:
        return reads_money(request.user)
