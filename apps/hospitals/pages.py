"""Staff pages of the hospitals app: per province, the hospitals whose code mappings a published
release breaks (from the checks written after each publish and each upload), and one hospital's
broken mappings. Province-bound staff see their own province only."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import CatalogRelease
from apps.catalog.selectors import published_releases
from apps.core.permissions import has_role, staff_province
from apps.core.roles import Role

from . import mapping_selectors

LISTED = 500


def _release(request: HttpRequest) -> CatalogRelease | None:
    label = request.GET.get("release")
    if label:
        return get_object_or_404(CatalogRelease, label=label, status=CatalogRelease.Status.PUBLISHED)
    # The newest published release: the one hospitals are moving to, before or after it takes effect.
    return published_releases().order_by("-effective_from").first()


def _scope(request: HttpRequest) -> tuple[str, bool]:
    if not has_role(request.user, *Role.values):
        raise PermissionDenied(_("staff roles only"))
    own = staff_province(request.user)
    return (own or request.GET.get("province", "").strip()), bool(own)


@staff_member_required
def mapping_issues(request: HttpRequest) -> HttpResponse:
    province, locked = _scope(request)
    release = _release(request)
    context: dict[str, object] = {"release": release, "province": province, "locked_province": locked}
    if release is not None:
        checks = mapping_selectors.hospitals_with_broken_mappings(release=release, province_code=province)
        context.update(
            checks=checks[:LISTED],
            summary=mapping_selectors.mapping_check_summary(release=release, province_code=province),
            releases=published_releases().order_by("-effective_from")[:20],
            listed=LISTED,
        )
    return render(request, "hospitals/mapping_issues.html", context)


@staff_member_required
def hospital_mapping_issues(request: HttpRequest, code: str) -> HttpResponse:
    province, _locked = _scope(request)
    hospital = mapping_selectors.hospital_of_province(code=code, province_code=province)
    release = _release(request)
    if hospital is None or release is None:  # another province's hospital is as unknown as none
        raise Http404("no such hospital")
    page = mapping_selectors.mappings_page(
        hospital_id=hospital.pk, on_date=release.effective_from, statuses=mapping_selectors.ISSUE_STATUSES, size=LISTED
    )
    context = {"hospital": hospital, "release": release, "rows": page.rows, "more": page.next_after is not None, "listed": LISTED}
    return render(request, "hospitals/hospital_mapping_issues.html", context)
