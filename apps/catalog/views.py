"""Review page for catalog administrators and reviewers (server-rendered)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from apps.core.errors import DomainError

from . import selectors, services
from .models import CatalogItem, CatalogRelease

DIFF_PAGE_SIZE = 100
CHANGES = ("added", "changed", "removed", "retired")
CHANGE_LABELS = {"added": _lazy("added"), "changed": _lazy("changed"), "removed": _lazy("removed"), "retired": _lazy("retired")}


@staff_member_required
def release_review(request: HttpRequest, label: str) -> HttpResponse:
    """The release, what it changes against the release before it (paged, one kind at a time
    or all, item names and old → new side by side), a red warning with counts when it removes
    items or clears fields, and the workflow buttons (submitting such a draft asks to confirm)."""
    release = get_object_or_404(CatalogRelease, label=label)
    previous, rows = selectors.release_diff_rows(release=release)
    counts = dict.fromkeys(CHANGES, 0)
    for row in rows:
        counts[row["change"]] += 1
    change = request.GET.get("change", "")
    shown = [r for r in rows if r["change"] == change] if change in CHANGES else rows
    page = Paginator(shown, DIFF_PAGE_SIZE).get_page(request.GET.get("page"))
    names = selectors.diff_item_names(rows=list(page.object_list), release=release, previous=previous)
    labels = {f.name: f.verbose_name for f in CatalogItem._meta.concrete_fields}
    diff = []
    for row in page.object_list:
        cleared = set(selectors.cleared_fields(row)) if row["change"] == "changed" else set()
        fields = [
            {"name": labels.get(name, name), "old": old, "new": new, "cleared": name in cleared}
            for name, (old, new) in (row.get("fields") or {}).items()
        ]
        diff.append({**row, "name": names.get(row["code"], ""), "field_rows": fields})
    context = {
        **admin.site.each_context(request),
        "title": _("Review of release %(label)s") % {"label": release.label},
        "release": release,
        "previous": previous,
        "counts": counts,
        "losses": selectors.diff_losses(rows),
        "by_kind": selectors.counts_by_kind(release=release),
        "change": change if change in CHANGES else "",
        "changes": [(c, CHANGE_LABELS[c], counts[c]) for c in CHANGES],
        "total": len(rows),
        "page": page,
        "diff": diff,
        "history": release.history.select_related("history_user").order_by("-history_date")[:50],  # type: ignore[attr-defined]
    }
    return render(request, "catalog/release_review.html", context)


@staff_member_required
def release_diff_csv(request: HttpRequest, label: str) -> StreamingHttpResponse:
    """The review's diff as a CSV download (all rows, or one kind with ``?change=``)."""
    release = get_object_or_404(CatalogRelease, label=label)
    change = request.GET.get("change", "")
    chunks = selectors.diff_csv_chunks(release=release, change=change if change in CHANGES else "")
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    suffix = f"-{change}" if change in CHANGES else ""
    response["Content-Disposition"] = f'attachment; filename="diff-{release.label}{suffix}.csv"'
    return response


@staff_member_required
@require_POST
def release_action(request: HttpRequest, label: str, action: str) -> HttpResponse:
    release = get_object_or_404(CatalogRelease, label=label)
    try:
        if action == "submit":
            services.release_submit(release=release, user=request.user, confirm_removals=request.POST.get("confirm_removals") == "yes")
        elif action == "approve":
            services.release_approve(release=release, user=request.user)
        elif action == "reject":
            services.release_reject(release=release, user=request.user, reason=request.POST.get("reason", ""))
        elif action == "publish":
            services.release_publish(release=release, user=request.user)
        else:
            return HttpResponseBadRequest("unknown action")
        messages.success(request, f"{label}: {action} done")
    except DomainError as exc:
        messages.error(request, f"{label}: {exc.detail} ({exc.code})")
    return redirect("catalog:release-review", label=label)
