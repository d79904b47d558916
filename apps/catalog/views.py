"""Review page for catalog administrators and reviewers (server-rendered)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from apps.core.errors import DomainError
from apps.core.reasons import error_message, error_tags

from . import selectors, services
from .models import CatalogRelease

ACTION_LABELS = {
    "submit": _("submitted for review"),
    "approve": _("approved"),
    "reject": _("sent back to draft"),
    "publish": _("published"),
}

REVIEW_LIST_LIMIT = 500


@staff_member_required
def release_review(request: HttpRequest, label: str) -> HttpResponse:
    release = get_object_or_404(CatalogRelease, label=label)
    previous = release.previous if release.is_published else selectors.release_previous(release=release)
    diff = selectors.catalog_diff(old=previous, new=release)
    context = {
        "release": release,
        "previous": previous,
        "counts": diff["counts"],
        "by_kind": selectors.counts_by_kind(release=release),
        "added": diff["added"][:REVIEW_LIST_LIMIT],
        "changed": diff["changed"][:REVIEW_LIST_LIMIT],
        "removed": diff["removed"][:REVIEW_LIST_LIMIT],
        "retired": diff["retired"][:REVIEW_LIST_LIMIT],
        "limit": REVIEW_LIST_LIMIT,
        "history": release.history.select_related("history_user").order_by("-history_date")[:50],  # type: ignore[attr-defined]
    }
    return render(request, "catalog/release_review.html", context)


@staff_member_required
@require_POST
def release_action(request: HttpRequest, label: str, action: str) -> HttpResponse:
    release = get_object_or_404(CatalogRelease, label=label)
    try:
        if action == "submit":
            services.release_submit(release=release, user=request.user)
        elif action == "approve":
            services.release_approve(release=release, user=request.user)
        elif action == "reject":
            services.release_reject(release=release, user=request.user, reason=request.POST.get("reason", ""))
        elif action == "publish":
            services.release_publish(release=release, user=request.user)
        else:
            return HttpResponseBadRequest("unknown action")
        messages.success(request, _("%(release)s: done (%(action)s)") % {"release": label, "action": ACTION_LABELS[action]})
    except DomainError as exc:
        messages.error(request, error_message(exc, subject=label), extra_tags=error_tags(exc))
    return redirect("catalog:release-review", label=label)
