"""Staff pages of pooling outside the admin's model lists (server-rendered, staff login, the admin
header): an account's statement for the money allow-list. A province-bound reader chooses among
her province's accounts only; another province's account answers 404. The figures come from the
statement selector the API serves (``selectors.account_statement``); the page links to the API's
CSV and PDF of the same range."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.core.errors import DomainError
from apps.core.permissions import reads_money
from apps.core.reasons import error_message

from . import selectors
from .models import FundAccount


class StatementForm(forms.Form):
    """Which account (those the reader may see, by name) and which days; the range defaults to
    this month up to today."""

    account = forms.ModelChoiceField(FundAccount.objects.none(), label=_("Account"))

    def __init__(self, data: Any, *, user: Any) -> None:
        super().__init__(data)
        self.fields["account"].queryset = selectors.statement_accounts_visible_to(user=user).order_by("province__code", "kind", "name")  # type: ignore[attr-defined]
        today = timezone.localdate()
        self.fields["from"] = forms.DateField(
            label=pgettext_lazy("date range", "From"),
            initial=today.replace(day=1),
            widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
        )
        self.fields["to"] = forms.DateField(
            label=pgettext_lazy("date range", "To (included)"),
            initial=today,
            widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
        )


def _require_money_reader(request: HttpRequest) -> None:
    if not reads_money(request.user):
        raise PermissionDenied(_("fund balances are read by finance, provincial staff and auditors"))


def _query(request: HttpRequest, account: FundAccount | None) -> dict[str, Any]:
    today = timezone.localdate()
    return {
        "account": account.pk if account else request.GET.get("account", ""),
        "from": request.GET.get("from") or today.replace(day=1).isoformat(),
        "to": request.GET.get("to") or today.isoformat(),
    }


@staff_member_required
def statements(request: HttpRequest) -> HttpResponse:
    """Choose an account and days: the chosen account's statement page."""
    _require_money_reader(request)
    form = StatementForm(_query(request, None) if "account" in request.GET else None, user=request.user)
    if form.is_valid():
        query = urlencode({"from": form.cleaned_data["from"].isoformat(), "to": form.cleaned_data["to"].isoformat()})
        return redirect(f"{reverse('pooling:account-statement', args=[form.cleaned_data['account'].pk])}?{query}")
    context = {**admin.site.each_context(request), "form": form, "statement": None}
    return render(request, "pooling/statement.html", context)


def _entries(statement: dict[str, Any]) -> list[dict[str, Any]]:
    """The statement's entries as people read them, each with a link to its transfer."""
    return [
        {**entry, "transfer_url": reverse("admin:pooling_transfer_change", args=[entry["transfer"]])}
        for entry in selectors.statement_entries_shown(statement=statement)
    ]


@staff_member_required
def account_statement(request: HttpRequest, pk: int) -> HttpResponse:
    """One account's statement over the chosen days: opening balance, entries with counterpart
    accounts and running balance, closing balance; the same statement as CSV and PDF (the API's)."""
    _require_money_reader(request)
    account = get_object_or_404(selectors.statement_accounts_visible_to(user=request.user), pk=pk)
    form = StatementForm(_query(request, account), user=request.user)
    statement, entries, downloads = None, [], {}
    if form.is_valid():
        date_from: dt.date = form.cleaned_data["from"]
        date_to: dt.date = form.cleaned_data["to"]
        try:
            statement = selectors.account_statement(account=account, date_from=date_from, date_to=date_to)
        except DomainError as exc:
            form.add_error(None, error_message(exc))
        else:
            entries = _entries(statement)
            api = reverse("account-statement", args=[account.pk])
            downloads = {
                fmt: f"{api}?{urlencode({'from': date_from.isoformat(), 'to': date_to.isoformat(), 'format': fmt})}"
                for fmt in ("csv", "pdf")
            }
    context = {
        **admin.site.each_context(request),  # the admin header: user links, logout
        "form": form,
        "account": account,
        "statement": statement,
        "entries": entries,
        "downloads": downloads,
        "account_url": reverse("admin:pooling_fundaccount_change", args=[account.pk]),
    }
    return render(request, "pooling/statement.html", context)
