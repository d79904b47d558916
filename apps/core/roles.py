"""Staff roles and province scoping. Roles are Django groups of the same name, kept in sync
with ``StaffProfile.role`` by ``staff_set_role`` so admin permissions follow the role."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CATALOG_ADMIN = "catalog_admin", _("Catalog administrator")
    CATALOG_REVIEWER = "catalog_reviewer", _("Catalog reviewer")
    PROVINCE_STAFF = "province_staff", _("Provincial bureau staff")
    FINANCE_MAKER = "finance_maker", _("Finance maker")
    FINANCE_CHECKER = "finance_checker", _("Finance checker")
    AUDITOR = "auditor", _("Auditor (read-only)")


# Roles whose work may be bound to one province (the user's ``province_code`` says whether it is).
PROVINCE_SCOPED_ROLES = frozenset({Role.PROVINCE_STAFF, Role.FINANCE_MAKER, Role.FINANCE_CHECKER})
# Roles that always are: provincial bureau staff. Finance users without a province are national:
# they start reconciliation runs and approve debits of the national fund.
PROVINCE_REQUIRED_ROLES = frozenset({Role.PROVINCE_STAFF})

# Django model permissions each role's group carries: {role: {app_label or app_label.model: actions}}.
# Workflow rules (who may approve what) are checked by the services, not by these.
_ALL_APPS = ("core", "catalog", "benefits", "hospitals", "notices", "pooling", "reconciliation")
ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    Role.CATALOG_ADMIN: {
        "catalog": ("view", "add", "change", "delete"),
        "core": ("view",),
        "hospitals": ("view",),
        "notices": ("view",),
        # National payment reference kept beside the catalog: DRG tables and daily doses.
        "benefits.drgversion": ("view", "add", "change"),
        "benefits.dailydose": ("view", "add", "change"),
        "benefits.procedurecode": ("view",),
    },
    Role.CATALOG_REVIEWER: {
        "catalog": ("view", "change"),
        "core": ("view",),
        "benefits.drgversion": ("view", "change"),
        "benefits.dailydose": ("view", "change"),
    },
    Role.PROVINCE_STAFF: {
        "benefits": ("view", "add", "change"),
        "hospitals": ("view", "add", "change"),
        "notices": ("view", "add", "change"),
        "catalog": ("view",),
    },
    Role.FINANCE_MAKER: {"pooling": ("view", "add", "change"), "reconciliation": ("view", "add", "change"), "benefits": ("view",)},
    Role.FINANCE_CHECKER: {"pooling": ("view", "change"), "reconciliation": ("view", "change"), "benefits": ("view",)},
    Role.AUDITOR: dict.fromkeys(_ALL_APPS, ("view",)),
}
