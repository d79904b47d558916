"""Adoption dashboard (staff page): per province, who acknowledged the current release, who has
not, days since publish, failing endpoints, and a bar chart drawn as inline SVG."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import CatalogRelease
from apps.core.permissions import has_role, staff_province
from apps.core.roles import Role

from . import selectors

BAR_HEIGHT = 18


@staff_member_required
def adoption(request: HttpRequest) -> HttpResponse:
    if not has_role(request.user, *Role.values):
        raise PermissionDenied(_("staff roles only"))
    # Provincial staff see their own province only.
    own = staff_province(request.user)
    province = own or request.GET.get("province", "")
    label = request.GET.get("release")
    if label:
        release: CatalogRelease | None = get_object_or_404(CatalogRelease, label=label, status=CatalogRelease.Status.PUBLISHED)
    else:
        release = selectors.current_release()
    context: dict[str, object] = {"release": release, "province": province, "locked_province": bool(own)}
    if release is not None:
        rows = selectors.adoption_by_province(release=release, province_code=province)
        for i, row in enumerate(rows):
            row["y"] = i * (BAR_HEIGHT + 6)
            row["bar"] = round(3 * float(row["percent"]), 1)  # 300 px = 100 %
        context.update(
            rows=rows,
            chart_height=len(rows) * (BAR_HEIGHT + 6),
            bar_height=BAR_HEIGHT,
            totals={
                "total": sum(int(r["total"]) for r in rows),
                "acknowledged": sum(int(r["acknowledged"]) for r in rows),
                "failing": sum(int(r["failing_endpoints"]) for r in rows),
            },
            days_since_publish=selectors.days_since(release.published_at),
            missing=selectors.hospitals_not_acknowledged(release=release, province_code=province),
            failing=selectors.failing_endpoints(province_code=province),
            releases=CatalogRelease.objects.filter(status=CatalogRelease.Status.PUBLISHED).order_by("-published_at")[:20],
        )
    return render(request, "notices/adoption.html", context)
