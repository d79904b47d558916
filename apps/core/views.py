"""Staff pages that belong to no one app: the staff home (links to every staff page, grouped by
role) and the live progress page of a background job (an import, a reconciliation run)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from .errors import DomainError
from .jobs import job_view, jobs_visible_to
from .models import Job
from .permissions import has_role, staff_province, staff_role
from .reasons import CODE_LABELS
from .roles import Role

RECENT_JOBS = 10

# (title, URL name, query string) per role. Pages of an app that is not installed, or not built
# yet, are left out (their URL name does not reverse).
Page = tuple[Any, str, str]  # (title: a lazy translation, URL name, query string)
PAGES: dict[str, list[Page]] = {
    Role.CATALOG_ADMIN: [
        (_("Catalog releases: create drafts, import files, submit"), "admin:catalog_catalogrelease_changelist", ""),
        (_("Draft releases"), "admin:catalog_catalogrelease_changelist", "status__exact=draft"),
        (_("Catalog items"), "admin:catalog_catalogitem_changelist", ""),
        (_("Import and reconciliation jobs"), "admin:core_job_changelist", ""),
        (_("Hospital adoption of the current release"), "notices:adoption", ""),
        (_("Hospitals whose code mappings a release breaks"), "hospitals:mapping-issues", ""),
        (_("Change notices"), "admin:notices_changenotice_changelist", ""),
    ],
    Role.CATALOG_REVIEWER: [
        (_("Releases waiting for review"), "admin:catalog_catalogrelease_changelist", "status__exact=in_review"),
        (_("Approved releases waiting to be published"), "admin:catalog_catalogrelease_changelist", "status__exact=approved"),
        (_("All catalog releases"), "admin:catalog_catalogrelease_changelist", ""),
    ],
    Role.PROVINCE_STAFF: [
        (_("Benefit policies"), "admin:benefits_benefitpolicy_changelist", ""),
        (_("Local items"), "admin:benefits_localitem_changelist", ""),
        (_("Local items lapsing (sunset countdown)"), "admin:benefits_sunset_report", ""),
        (_("Benefit simulation: two provinces side by side"), "admin:benefits_simulate", ""),
        (_("Hospitals and API keys"), "admin:hospitals_hospital_changelist", ""),
        (_("Hospital adoption of the current release"), "notices:adoption", ""),
        (_("Hospitals whose code mappings a release breaks"), "hospitals:mapping-issues", ""),
    ],
    Role.FINANCE_MAKER: [
        (_("Fund balances and net flows (chart)"), "admin:pooling_overview", ""),
        (_("Propose a transfer"), "admin:pooling_transfer_add", ""),
        (_("Transfers"), "admin:pooling_transfer_changelist", ""),
        (_("Settlement batches"), "admin:reconciliation_settlementbatch_changelist", ""),
        (_("Reconciliation runs"), "admin:reconciliation_reconciliationrun_changelist", ""),
    ],
    Role.FINANCE_CHECKER: [
        (_("Transfers waiting for approval"), "admin:pooling_transfer_changelist", "state__exact=proposed"),
        (_("Fund balances and net flows (chart)"), "admin:pooling_overview", ""),
        (_("Ledger entries"), "admin:pooling_ledgerentry_changelist", ""),
        (_("Reconciliation runs"), "admin:reconciliation_reconciliationrun_changelist", ""),
    ],
    Role.AUDITOR: [
        (_("Administration home (every list, read-only, with history)"), "admin:index", ""),
        (_("Catalog releases"), "admin:catalog_catalogrelease_changelist", ""),
        (_("Ledger entries"), "admin:pooling_ledgerentry_changelist", ""),
        (_("Import and reconciliation jobs"), "admin:core_job_changelist", ""),
        (_("Audit log: who did what, filtered, exportable as CSV"), "admin:core_auditevent_changelist", ""),
        (_("Login attempts"), "admin:axes_accessattempt_changelist", ""),
    ],
}
COMMON_PAGES: list[Page] = [
    (_("Administration home"), "admin:index", ""),
    (_("API documentation"), "swagger-ui", ""),
]


def _links(pages: list[Page]) -> list[dict[str, str]]:
    links = []
    for title, name, query in pages:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        links.append({"title": str(title), "url": f"{url}?{query}" if query else url})
    return links


def _require_staff_role(request: HttpRequest) -> None:
    if not has_role(request.user, *Role.values):
        raise PermissionDenied("staff roles only")


@staff_member_required
def staff_home(request: HttpRequest) -> HttpResponse:
    """Every staff page, grouped by the role that uses it; the user's own role first."""
    _require_staff_role(request)
    own = staff_role(request.user)
    order = [own, *[r for r in Role.values if r != own]] if own else list(Role.values)
    recent = jobs_visible_to(user=request.user).order_by("-created_at")
    if own not in (Role.CATALOG_ADMIN, Role.CATALOG_REVIEWER, Role.AUDITOR) and not request.user.is_superuser:  # type: ignore[union-attr]
        recent = recent.filter(created_by=request.user.pk)
    context = {
        **admin.site.each_context(request),
        "title": _("Staff home"),
        "own_role": own,
        "province": staff_province(request.user),
        "groups": [{"role": role, "label": Role(role).label, "mine": role == own, "links": _links(PAGES[role])} for role in order],
        "common": _links(COMMON_PAGES),
        "jobs": recent[:RECENT_JOBS],
    }
    return render(request, "core/staff_home.html", context)


@staff_member_required
def job_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """A job's state and progress; the page polls GET /api/v1/jobs/{id}/ every second until the
    job succeeded or failed, then shows its result or errors and the next step."""
    _require_staff_role(request)
    job = get_object_or_404(jobs_visible_to(user=request.user), pk=pk)
    try:
        view = job_view(job=job, user=request.user)
    except DomainError as exc:
        raise PermissionDenied(exc.detail) from exc
    context = {
        **admin.site.each_context(request),
        "title": _("Job"),
        "job": job,
        "result": view.result,
        "errors": view.errors,
        "poll_ms": 1000,
        "labels": {
            "states": {value: str(label) for value, label in Job.State.choices},
            "codes": {code: str(label) for code, label in CODE_LABELS.items()},
            "text": {
                "finished": _("finished"),
                "updating": _("updating every second"),
                "retrying": _("could not refresh; retrying"),
                "open_run": _("Open the reconciliation run report"),
            },
        },
    }
    return render(request, "core/job_progress.html", context)
