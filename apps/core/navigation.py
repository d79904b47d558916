"""What a user's menus link to: only pages she may open. The admin header's links, the staff
home and the admin home ask ``may_open(request, url_name)``, which asks the page's own rule: for
admin lists and forms the ModelAdmin's permission (so money pages follow ``MONEY_READERS``, a
catalog role sees no fund page), for the other staff pages the rule their view applies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from .permissions import has_role, reads_money
from .roles import Role

Rule = Callable[[HttpRequest], bool]


def _model_admin(label: str) -> Any:
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return None
    return admin.site._registry.get(model)


def _admin_rule(url_name: str) -> Rule | None:
    """admin:<app>_<model>_<changelist|add|change> → the ModelAdmin's view / add permission."""
    if not url_name.startswith("admin:"):
        return None
    name = url_name.removeprefix("admin:")
    for suffix, ask in (("_changelist", "has_view_permission"), ("_add", "has_add_permission")):
        if name.endswith(suffix):
            app_label, _sep, model_name = name.removesuffix(suffix).partition("_")
            model_admin = _model_admin(f"{app_label}.{model_name}")
            if model_admin is None:
                return None
            check = getattr(model_admin, ask)
            return lambda request: bool(check(request))
    return None


def _any_role(request: HttpRequest) -> bool:
    return has_role(request.user, *Role.values)


def _may_view(label: str) -> Rule:
    def rule(request: HttpRequest) -> bool:
        model_admin = _model_admin(label)
        return model_admin is not None and bool(model_admin.has_view_permission(request))

    return rule


# Pages that are not a model's list or form: the rule their view applies.
PAGE_RULES: dict[str, Rule] = {
    "admin:index": _any_role,
    "staff:home": _any_role,
    "swagger-ui": _any_role,
    "admin:pooling_overview": lambda request: reads_money(request.user),
    "pooling:statements": lambda request: reads_money(request.user),
    "admin:pooling_figures_import": _may_view("pooling.regionperiodfigures"),
    "admin:pooling_adjustment_run": _may_view("pooling.adjustmentrun"),
    "admin:benefits_simulate": _may_view("benefits.benefitpolicy"),
    "admin:benefits_sunset_report": _may_view("benefits.localitem"),
    "reconciliation:compliance": lambda request: reads_money(request.user),
    "notices:adoption": _may_view("hospitals.hospital"),
    "hospitals:mapping-issues": _may_view("hospitals.hospital"),
}


def may_open(request: HttpRequest, url_name: str) -> bool:
    """Whether the page named ``url_name`` opens for this user (unknown pages: any staff role)."""
    if getattr(request.user, "is_superuser", False):
        return True
    rule = PAGE_RULES.get(url_name) or _admin_rule(url_name) or _any_role
    return rule(request)


def links(request: HttpRequest, pages: list[tuple[Any, str, str]]) -> list[dict[str, str]]:
    """(title, URL name, query) → the links this user may open, as {title, url}; pages of an app
    that is not installed (the name does not reverse) are left out."""
    shown = []
    for title, name, query in pages:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        if may_open(request, name):
            shown.append({"title": str(title), "url": f"{url}?{query}" if query else url})
    return shown


# The admin header's links (templates/admin/portal_staff_links.html), filtered per user.
HEADER_PAGES: list[tuple[Any, str, str]] = [
    (_("Staff home"), "staff:home", ""),
    (_("Catalog releases and review"), "admin:catalog_catalogrelease_changelist", ""),
    (_("Import and reconciliation jobs"), "admin:core_job_changelist", ""),
    (_("Transfers"), "admin:pooling_transfer_changelist", ""),
    (_("Fund balances and flows"), "admin:pooling_overview", ""),
    (_("Account statements"), "pooling:statements", ""),
    (_("Reconciliation runs"), "admin:reconciliation_reconciliationrun_changelist", ""),
    (_("Hospital compliance"), "reconciliation:compliance", ""),
    (_("Hospital adoption"), "notices:adoption", ""),
    (_("Local items lapsing"), "admin:benefits_sunset_report", ""),
    (_("Benefit simulation"), "admin:benefits_simulate", ""),
]
