"""Who may do what. Services call these; DRF permission classes wrap them for views."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .errors import Forbidden
from .roles import Role

AnyUser = AbstractBaseUser | AnonymousUser


def staff_role(user: Any) -> str | None:
    if not getattr(user, "is_authenticated", False):
        return None
    profile = getattr(user, "staff_profile", None)
    return profile.role if profile is not None else None


def staff_province(user: Any) -> str:
    profile = getattr(user, "staff_profile", None)
    return profile.province_code if profile is not None else ""


def bound_province(user: Any) -> str:
    """The province whose data alone the user reads and acts on ('' = national: superusers,
    national finance users, catalog roles and auditors). The one test of a province wall."""
    if getattr(user, "is_superuser", False):
        return ""
    return staff_province(user)


def has_role(user: Any, *roles: str) -> bool:
    if getattr(user, "is_superuser", False):
        return True
    return staff_role(user) in roles


def _role_labels(roles: tuple[str, ...]) -> Any:
    """The roles' labels, joined lazily (read in the reader's language)."""
    return format_lazy(", ".join("{}" for _role in roles), *(Role(r).label if r in Role.values else r for r in roles))


def require_role(user: Any, *roles: str) -> None:
    """Raise Forbidden (403 permission_denied) unless the user holds one of ``roles``."""
    if not has_role(user, *roles):
        raise Forbidden(format_lazy(_("this action needs one of the roles: {roles}"), roles=_role_labels(roles)))


def require_province(user: Any, province_code: str) -> None:
    """Raise 403 wrong_province if a province-scoped user acts outside her province."""
    if getattr(user, "is_superuser", False):
        return
    own = staff_province(user)
    if own and own != province_code:
        raise Forbidden(format_lazy(_("you act for province {own}, not {other}"), own=own, other=province_code), code="wrong_province")


# Who reads money: fund accounts, balances, ledger entries, transfers, reconciliation results
# (net positions, settled amounts) and the jobs that produce them. The one allow-list every money
# read path asks (API permission, admin, staff pages, selectors); province-bound readers then see
# their own province only. Catalog roles are not on it.
MONEY_READERS = (Role.FINANCE_MAKER, Role.FINANCE_CHECKER, Role.PROVINCE_STAFF, Role.AUDITOR)


def reads_money(user: Any) -> bool:
    return has_role(user, *MONEY_READERS)


def require_money_reader(user: Any) -> None:
    """403 permission_denied unless the user is on the money allow-list (MONEY_READERS)."""
    if not reads_money(user):
        raise Forbidden(
            _("fund accounts, ledgers, transfers and reconciliation results are read by finance, provincial staff and auditors")
        )


CATALOG_EDITORS = (Role.CATALOG_ADMIN,)
# Releases are approved (and reviewed) by reviewers only: editors never approve their own kind of work.
CATALOG_APPROVERS = (Role.CATALOG_REVIEWER,)
READ_ALL_ROLES = tuple(Role.values)
