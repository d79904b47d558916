"""CSRF: every staff page and form answers a POST without a CSRF token with 403, for a logged-in
superuser (the strongest session there is). URLs are enumerated from the resolver, so a new page
or a csrf_exempt view is covered without editing this file. Session-authenticated API calls are
checked by DRF the same way; API keys and tokens carry no ambient authority and need no token."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

SAMPLES = {"int": "1", "str": "2026.01", "path": "x", "slug": "x", "app_label": "catalog"}


def _fill_route(route: str) -> str:
    route = re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: SAMPLES.get(m.group(1) or "str", "x"), route)
    # Regex patterns (admin): named groups get a sample, anchors go.
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: SAMPLES.get(m.group(1), "1"), route)
    # Only the regex end anchor goes: a literal "$" inside a route is FHIR's operation marker ($lookup).
    return route.replace("^", "").removesuffix("$").replace("\\", "")


def page_urls() -> Iterator[str]:
    def walk(patterns: object, prefix: str) -> Iterator[str]:
        for entry in patterns:  # type: ignore[attr-defined]
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield "/" + _fill_route(prefix + str(entry.pattern))

    seen = set()
    for url in walk(get_resolver().url_patterns, ""):
        if url not in seen and not re.search(r"[()*+?\[]", url):
            seen.add(url)
            yield url


@pytest.fixture
def session() -> Client:
    user = get_user_model().objects.create_superuser("csrf-root", "root@example.cn", "correct horse battery staple")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_the_enumeration_reaches_admin_review_pages_and_the_api():
    urls = list(page_urls())
    assert all(any(u.startswith(p) for u in urls) for p in ("/admin/", "/catalog/releases/", "/api/v1/", "/hospitals/adoption/"))


def test_every_page_refuses_a_post_without_a_csrf_token(session):
    answers = {url: session.post(url, {"action": "delete_selected", "_selected_action": "1"}).status_code for url in page_urls()}
    assert {url: status for url, status in answers.items() if status != 403} == {}


def test_a_post_with_the_token_gets_past_the_check(session):
    session.get("/admin/")
    token = session.cookies["csrftoken"].value
    response = session.post("/admin/logout/", {"csrfmiddlewaretoken": token})
    assert response.status_code != 403


def test_admin_login_form_refuses_a_post_without_a_token():
    response = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "csrf-root", "password": "x"})
    assert response.status_code == 403
