"""Staff pages that belong to no one app: the staff home (links to every staff page, grouped by
role) and the live progress page of a background job (an import, a reconciliation run)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _

from .errors import DomainError, localized
from .jobs import job_view, jobs_visible_to
from .models import Job
from .navigation import links
from .permissions import has_role, staff_province, staff_role
from .reasons import CODE_LABELS, code_label
from .roles import Role

RECENT_JOBS = 10

# (title, URL name, query string) per role; the staff home shows the user's role's pages that
# she may open (apps.core.navigation), and leaves out those of an app that is not installed.
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
        (_("Account statements"), "pooling:statements", ""),
        (_("Hospital adoption of the current release"), "notices:adoption", ""),
        (_("Hospitals whose code mappings a release breaks"), "hospitals:mapping-issues", ""),
    ],
    Role.FINANCE_MAKER: [
        (_("Fund balances and net flows (chart)"), "admin:pooling_overview", ""),
        (_("Propose a transfer"), "admin:pooling_transfer_add", ""),
        (_("Transfers"), "admin:pooling_transfer_changelist", ""),
        (_("Account statements"), "pooling:statements", ""),
        (_("Settlement batches"), "admin:reconciliation_settlementbatch_changelist", ""),
        (_("Reconciliation runs"), "admin:reconciliation_reconciliationrun_changelist", ""),
    ],
    Role.FINANCE_CHECKER: [
        (_("Transfers waiting for approval"), "admin:pooling_transfer_changelist", "state__exact=proposed"),
        (_("Fund balances and net flows (chart)"), "admin:pooling_overview", ""),
        (_("Ledger entries"), "admin:pooling_ledgerentry_changelist", ""),
        (_("Account statements"), "pooling:statements", ""),
        (_("Reconciliation runs"), "admin:reconciliation_reconciliationrun_changelist", ""),
    ],
    Role.AUDITOR: [
        (_("Administration home (every list, read-only, with history)"), "admin:index", ""),
        (_("Catalog releases"), "admin:catalog_catalogrelease_changelist", ""),
        (_("Ledger entries"), "admin:pooling_ledgerentry_changelist", ""),
        (_("Account statements"), "pooling:statements", ""),
        (_("Import and reconciliation jobs"), "admin:core_job_changelist", ""),
        (_("Audit log: who did what, filtered, exportable as CSV"), "admin:core_auditevent_changelist", ""),
        (_("Login attempts"), "admin:axes_accessattempt_changelist", ""),
    ],
}
COMMON_PAGES: list[Page] = [
    (_("Administration home"), "admin:index", ""),
    (_("API documentation"), "swagger-ui", ""),
]


def _require_staff_role(request: HttpRequest) -> None:
    if not has_role(request.user, *Role.values):
        raise PermissionDenied(_("staff roles only"))


@staff_member_required
def staff_home(request: HttpRequest) -> HttpResponse:
    """The staff pages of the user's role that she may open (a superuser: every role's)."""
    _require_staff_role(request)
    own = staff_role(request.user)
    order = [own] if own else list(Role.values)
    recent = jobs_visible_to(user=request.user).order_by("-created_at")
    if own not in (Role.CATALOG_ADMIN, Role.CATALOG_REVIEWER, Role.AUDITOR) and not request.user.is_superuser:  # type: ignore[union-attr]
        recent = recent.filter(created_by=request.user.pk)
    context = {
        **admin.site.each_context(request),
        "title": _("Staff home"),
        "own_role": own,
        "province": staff_province(request.user),
        "groups": [{"role": role, "label": Role(role).label, "mine": role == own, "links": links(request, PAGES[role])} for role in order],
        "common": links(request, COMMON_PAGES),
        "jobs": recent[:RECENT_JOBS],
    }
    return render(request, "core/staff_home.html", context)


# What people call each kind of job (the kind names are the apps' own; core imports none of them).
JOB_KIND_LABELS = {
    "catalog.import": _("Catalog import"),
    "reconciliation.import": _("Settlement import"),
    "reconciliation.run": _("Reconciliation run"),
    "pooling.figures_import": _("Region figures import"),
    "pooling.adjustment_run": _("Risk adjustment run"),
    "hospitals.mappings": _("Code mapping upload"),
}
JOB_STATE_LABELS = {"queued": _("queued"), "running": _("running"), "succeeded": _("succeeded"), "failed": _("failed")}
# Result keys people read in a sentence (the rest is listed as "other figures").
_SUMMARISED = {"rows", "added", "changed", "removed", "unchanged", "kept_blank", "kept_blank_items", "format", "mode", "encoding"}


def _readable_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, list):
        return ", ".join(_readable_value(v) for v in value[:20]) + (" …" if len(value) > 20 else "")
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_readable_value(v)}" for k, v in list(value.items())[:20])
    return "—" if value in (None, "") else str(value)


def job_outcome_context(*, job: Any, result: dict[str, Any], errors: list[dict[str, Any]]) -> dict[str, Any]:
    """What the job page shows of a finished job, in words: a catalog import's counts as a
    sentence, any other result as labelled figures (never raw JSON), and errors as a table."""
    result = localized(result)
    errors = [localized(error) for error in errors]
    others = result if job.kind != "catalog.import" else {k: v for k, v in result.items() if k not in _SUMMARISED}
    return {
        "job": job,
        "kind_label": JOB_KIND_LABELS.get(job.kind, job.kind),
        "state_label": JOB_STATE_LABELS.get(job.state, job.state),
        "result": result,
        "figures": [(key.replace("_", " "), _readable_value(value)) for key, value in others.items() if key != "detail"],
        "detail": result.get("detail", ""),
        "errors": errors,
        "unit": job.params.get("unit", ""),
    }


def _visible_job(request: HttpRequest, pk: int) -> tuple[Any, Any]:
    _require_staff_role(request)
    job = get_object_or_404(jobs_visible_to(user=request.user), pk=pk)
    try:
        return job, job_view(job=job, user=request.user)
    except DomainError as exc:
        raise PermissionDenied(exc.localized()) from exc


@staff_member_required
def job_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """A job's state and progress; the page polls GET /api/v1/jobs/{id}/ every second until the
    job succeeded or failed, then shows its outcome (``job_outcome``) and the next step."""
    job, view = _visible_job(request, pk)
    context = {
        **admin.site.each_context(request),
        **job_outcome_context(job=job, result=view.result, errors=view.errors),
        "title": _("Job"),
        "state_labels": {state: str(label) for state, label in JOB_STATE_LABELS.items()},
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


@staff_member_required
def job_outcome(request: HttpRequest, pk: int) -> HttpResponse:
    """The outcome part of the job page, rendered on the server for the page to insert when the
    job it follows ends (one rendering, translated, for the first load and the live update)."""
    job, view = _visible_job(request, pk)
    return render(request, "core/_job_outcome.html", job_outcome_context(job=job, result=view.result, errors=view.errors))


@staff_member_required
def job_errors_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """A failed job's row errors as CSV (line, column, code, message), to fix the file by."""
    import csv
    import io

    job, view = _visible_job(request, pk)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_("line"), _("column"), _("code"), _("reason"), _("message")])
    for error in map(localized, view.errors):
        code = error.get("code", "")
        cells = [error.get("line", ""), error.get("column", ""), code, code_label(code), error.get("message", "")]
        writer.writerow(["'" + c if isinstance(c, str) and c[:1] in ("=", "+", "-", "@", "\t", "\r") else c for c in cells])
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="job-{job.pk}-errors.csv"'
    return response
