"""Every staff page in a real browser, as the demo's superuser with Chinese chosen: the admin
index, each registered model's list and add page, the custom pages the staff home links, and
the API docs. Two rules are checked on what chromium loads and shows:

- no request leaves this site (hospital intranets have no internet: scripts, styles, fonts and
  icons are vendored or come from drf-spectacular-sidecar);
- no English word is visible on a page in zh-hans, apart from ``ALLOWED`` below (codes, units and
  names that are written in Latin letters in Chinese too) and the data shown (user names)."""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import NoReverseMatch, reverse

# Slow: the demo data and ~130 pages (about 20 minutes on this shared machine under load).
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# Written in Latin letters in Chinese UIs as well: formats, protocols, standards and code systems,
# units, and the product names of the API tools. Keep it small; every entry is such a name.
FORMATS_AND_PROTOCOLS = {
    "API",
    "URL",
    "CSV",
    "PDF",
    "JSON",
    "JSONL",
    "XLSX",
    "SHA",
    "HMAC",
    "HTTP",
    "HTTPS",
    "SMTP",
    "TOTP",
    "OTP",
    "ID",
    "IP",
}
STANDARDS_AND_UNITS = {
    "DRG",
    "ADRG",
    "ICD",
    "CM",
    "HIS",
    "FHIR",
    "NFC",
    "NFKC",
    "GB",
    "UTF",
    "UTC",
    "Unix",
    "XPCC",
    "YYYY",
    "MM",
    "DD",
    "ms",
}
# Product names, and key caps printed in Latin letters on every keyboard.
PRODUCT_NAMES = {"Webhook", "Swagger", "Redoc", "OpenAPI", "GET", "POST", "Mac", "Ctrl"}
ALLOWED = FORMATS_AND_PROTOCOLS | STANDARDS_AND_UNITS | PRODUCT_NAMES
ALLOWED_UPPER = {word.upper() for word in ALLOWED}
WORD = re.compile(r"(?<![\w@./:-])[A-Za-z][A-Za-z]+(?![\w@/-])")
# Data and identifiers, not words: mail and web addresses, paths, a browser's user-agent string
# (login records show it as sent), and dotted code names (Celery task names such as
# ``notices.deliver_due``: the scheduled-task pages choose a task by its name).
NOT_PROSE = re.compile(r"\S+@\S+|https?://\S+|/\S+/|Mozilla/5\.0 [^\t\n]*|\b[a-z_]+(?:\.[a-z_]+)+\b")


def _pages() -> list[str]:
    """Admin index, every registered model's changelist and add page, the staff home."""
    paths = ["/admin/", "/staff/"]
    for model in admin.site._registry:
        opts = model._meta
        for view in ("changelist", "add"):
            try:
                paths.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}"))
            except NoReverseMatch:
                continue
    return paths


def _statement_page() -> str:
    """The statement of the demo's account with the latest entry, over the year up to today."""
    import datetime as dt

    from apps.pooling.models import LedgerEntry

    entry = LedgerEntry.objects.order_by("-posted_at").first()
    assert entry is not None, "the demo posts transfers"
    today = dt.date.today()
    query = f"from={today - dt.timedelta(days=365)}&to={today}"
    return reverse("pooling:account-statement", args=[entry.account_id]) + "?" + query


_VISITS: list[tuple[str, int, str, list[str]]] = []
_USER_NAMES: set[str] = set()  # the demo's logins and key prefixes, read while its data exists (data, not words)


def _visit_all(staff_browser: Any) -> list[tuple[str, int, str, list[str]]]:
    """(path, status, visible text, hosts requested) of every page, the staff home's links included.
    One walk serves both tests of this module (it takes minutes): what it saw is kept, not the data."""
    if _VISITS:
        return _VISITS
    call_command("seed_demo", stdout=io.StringIO())
    from django.contrib.auth import get_user_model

    from apps.hospitals.models import ApiKey

    _USER_NAMES.update(name.lower() for name in get_user_model().objects.values_list("username", flat=True))
    # API key prefixes are random identifiers (``HeonlzUxay…``): some are all letters.
    _USER_NAMES.update(prefix.lower() for prefix in ApiKey.objects.values_list("prefix", flat=True))
    browser = staff_browser
    browser.page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": browser.base_url}])
    browser.log_in("admin", "portal-demo-2026")
    requested: list[str] = []
    browser.page.on("request", lambda request: requested.append(request.url))
    paths = _pages()
    home = browser.open("/staff/")
    for href in home.eval_on_selector_all("#staff-pages a, #role-common a", "els => els.map(e => e.getAttribute('href'))"):
        if href not in paths:
            paths.append(href)
    paths += [_statement_page(), "/api/docs/", "/api/redoc/"]
    seen = []
    for path in paths:
        requested.clear()
        response = browser.page.goto(browser.base_url + path, wait_until="load")
        text = browser.page.inner_text("body") if response.ok else ""
        seen.append((path, response.status, text, [urlsplit(url).hostname or "" for url in requested]))
    _VISITS.extend(seen)
    return seen


def test_no_page_requests_anything_from_another_host(staff_browser):
    foreign = {path: sorted({h for h in hosts if h not in LOCAL_HOSTS}) for path, _s, _t, hosts in _visit_all(staff_browser)}
    assert {path: hosts for path, hosts in foreign.items() if hosts} == {}


def test_every_staff_page_in_chinese_shows_no_english_word(staff_browser):
    # User names are data (the admin's header shows the reader's own in capitals); the allow-list's
    # names stay names in capitals too (the admin's headings are upper-cased by its style sheet).
    visits = _visit_all(staff_browser)
    user_names = _USER_NAMES
    english: dict[str, list[str]] = {}
    for path, status, text, _hosts in visits:
        if path.startswith("/api/"):
            continue  # the API docs show the OpenAPI schema: field names and codes are the contract
        assert status in (200, 403), f"{path} answered {status}"
        words = {w for w in WORD.findall(NOT_PROSE.sub(" ", text)) if w.upper() not in ALLOWED_UPPER and w.lower() not in user_names}
        if words:
            english[path] = sorted(words)
    assert english == {}
