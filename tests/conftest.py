from __future__ import annotations

import os
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.core.roles import Role
from tests.factories import staff

IN_CI = os.environ.get("CI") == "true"


def require_service(name: str, ok: bool, detail: str = "") -> None:
    """A test that needs a real service fails loudly in CI and skips (with reason) elsewhere."""
    if ok:
        return
    message = f"{name} is not available{': ' + detail if detail else ''}"
    if IN_CI:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A transactional test must restore the database it found (serialized_rollback=True): the
    flush after one that does not re-creates the migrations' rows (roles, groups), and the next
    test that restores its snapshot on the same database then fails on duplicate keys."""
    offenders = []
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is not None and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            offenders.append(item.nodeid)
    if offenders:
        raise pytest.UsageError("transaction=True without serialized_rollback=True: " + ", ".join(offenders))


@pytest.fixture
def redis_url() -> str:
    import redis
    from django.conf import settings

    url: str = settings.REDIS_URL
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        ok, detail = True, ""
    except Exception as exc:
        ok, detail = False, str(exc)
    require_service("Redis", ok, detail)
    return url


@pytest.fixture(autouse=True)
def _fresh_published_timeline() -> Any:
    """The look-up's in-memory list of published releases must not outlive a test's rolled-back rows."""
    from apps.catalog.selectors import forget_published_timeline

    forget_published_timeline()
    yield
    forget_published_timeline()


@pytest.fixture
def catalog_admin(db: Any) -> Any:
    return staff(Role.CATALOG_ADMIN, username="catalog-admin")


@pytest.fixture
def reviewer(db: Any) -> Any:
    return staff(Role.CATALOG_REVIEWER, username="catalog-reviewer")


@pytest.fixture
def auditor(db: Any) -> Any:
    return staff(Role.AUDITOR, username="auditor")


@pytest.fixture
def api() -> Any:
    """api(user) -> an APIClient authenticated as ``user`` (or anonymous with None)."""

    def make(user: Any = None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


def login_through_page(username: str, password: str = "correct horse battery staple") -> Any:
    """A test client logged in the way a person logs in: the login page, its CSRF token, a POST."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.get("/admin/login/")
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
    )
    assert response.status_code == 302, f"login of {username} failed ({response.status_code})"
    return client
