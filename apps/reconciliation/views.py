"""Report pages of a reconciliation run (server-rendered, staff login) for the money allow-list.
Provincial readers see only the province pairs involving their own province (a pair outside it
answers 404), their own net position and the transfers they pay or receive."""

from __future__ import annotations

import re

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ValidationFailed
from apps.core.permissions import bound_province, reads_money
from apps.pooling.models import PERIOD_PATTERN

from . import selectors
from .models import Discrepancy, ReconciliationRun

PAIR_LIST_LIMIT = 500
COMPLIANCE_LIMIT = 500
_PERIOD = re.compile(PERIOD_PATTERN)


def _reader_province(request: HttpRequest) -> str:
    """The province the user is bound to ('' = national); refuses users off the money allow-list."""
    if not reads_money(request.user):
        raise PermissionDenied(_("reconciliation reports are for finance staff, provincial staff and auditors"))
    return bound_province(request.user)


def _csv_url(run: ReconciliationRun, **query: str) -> str:
    url = reverse("reconciliation-run-discrepancies", args=[run.pk])
    return f"{url}?{urlencode(query)}" if query else url


@staff_member_required
def run_report(request: HttpRequest, pk: int) -> HttpResponse:
    province = _reader_province(request)
    run = get_object_or_404(selectors.runs(), pk=pk)
    summary = selectors.run_summary_for(run=run, province=province)
    pairs = selectors.run_pairs(run=run, province=province)
    for row in pairs:
        row["url"] = reverse("reconciliation:pair-report", args=[run.pk, row["home"], row["destination"]])
    context = {
        **admin.site.each_context(request),  # the admin header: user links, logout
        "run": run,
        "province": province,
        "kinds": Discrepancy.Kind.values,
        "pairs": pairs,
        "positions": selectors.run_net_positions(run=run, province=province),
        "transfers": selectors.run_transfers(run=run, province=province),
        "adjustments": summary.get("adjustments", []),
        "already_settled": summary.get("already_settled", []),
        "csv_url": _csv_url(run),
    }
    return render(request, "reconciliation/run_report.html", context)


@staff_member_required
def pair_report(request: HttpRequest, pk: int, home: str, destination: str) -> HttpResponse:
    province = _reader_province(request)
    if province and province not in (home, destination):
        raise Http404("no such province pair for you")
    run = get_object_or_404(selectors.runs(), pk=pk)
    pair = next((p for p in selectors.run_pairs(run=run, province=province) if (p["home"], p["destination"]) == (home, destination)), None)
    if pair is None:
        raise Http404("the run has no claims between these provinces")
    both = {home, destination}
    rows = selectors.discrepancies(run=run, home=home, destination=destination)
    # A provincial reader sees her own net position and transfers, not the other province's.
    context = {
        **admin.site.each_context(request),
        "run": run,
        "pair": pair,
        "kinds": [(kind, pair["kinds"][kind]) for kind in Discrepancy.Kind.values],
        "positions": [(code, amount) for code, amount in selectors.run_net_positions(run=run, province=province) if code in both],
        "transfers": [
            t
            for t in selectors.run_transfers(run=run, province=province)
            if {t.from_account.province_code, t.to_account.province_code} & both
        ],
        "discrepancies": rows[:PAIR_LIST_LIMIT],
        "limit": PAIR_LIST_LIMIT,
        "csv_url": _csv_url(run, home=home, destination=destination),
        "run_url": reverse("reconciliation:run-report", args=[run.pk]),
    }
    return render(request, "reconciliation/pair_report.html", context)


@staff_member_required
def compliance(request: HttpRequest) -> HttpResponse:
    """Hospitals ranked by what they get wrong in a period's run in force: a province-bound
    reader's own destination province; national readers pick one or see every province."""
    province = _reader_province(request)
    period = request.GET.get("period", "")
    if not _PERIOD.match(period):
        latest = selectors.runs().filter(state=ReconciliationRun.State.SUCCEEDED).order_by("-period", "-pk").first()
        period = latest.period if latest else ""
    error = ""
    try:
        shown = province or selectors.requested_province(request.GET.get("province", ""))
    except ValidationFailed:
        shown, error = "", request.GET.get("province", "")
    rows = selectors.compliance_report(period=period, province=shown) if period and not error else []
    query = {"period": period, **({"province": shown} if shown else {})}
    context = {
        **admin.site.each_context(request),
        "period": period,
        "province": shown,
        "bound": bool(province),
        "province_error": error,
        "rows": rows[:COMPLIANCE_LIMIT],
        "total": len(rows),
        "limit": COMPLIANCE_LIMIT,
        "csv_url": f"{reverse('reconciliation-compliance-csv')}?{urlencode(query)}",
    }
    return render(request, "reconciliation/compliance.html", context)
