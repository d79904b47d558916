"""Real-browser fixtures: Debian's chromium driven by Playwright (never a downloaded browser),
against pytest-django's live_server (Celery eager, as in the unit tests)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from tests.conftest import require_service

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "correct horse battery staple"  # tests.factories.staff sets it
TIMEOUT_MS = 10_000


@pytest.fixture
def browser(live_server: Any) -> Iterator[Any]:
    """Chromium for one test, started after and stopped before the test's database setup and
    flush. Playwright's sync API keeps an event loop running in this thread while it is
    started; Django then sees another connection object (asgiref locals follow the loop's
    context), so a flush while it runs would miss the serialized-rollback state. For the same
    reason Django's async-safety check is relaxed for exactly that span: the ORM calls the tests
    make between browser steps are plain synchronous code."""
    require_service("chromium", os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing (scripts/ensure-browser installs it)")
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield browser
            browser.close()
            connections.close_all()  # the connections the test opened inside the loop's context


class Staff:
    """One browser tab plus the steps staff take in it; screenshots go to test-artifacts/."""

    def __init__(self, page: Any, base_url: str, name: str) -> None:
        self.page = page
        self.base_url = base_url
        self.name = name
        self.shots = 0

    def open(self, path: str) -> Any:
        self.page.goto(self.base_url + path)
        return self.page

    def log_in(self, username: str, password: str = PASSWORD) -> None:
        """Through the real login form (so django-axes sees a real request)."""
        self.open("/admin/login/?next=/staff/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("#login-form [type=submit]")
        self.page.wait_for_url(re.compile(r".*/staff/$"))

    def log_out(self) -> None:
        self.open("/admin/")  # the admin header has the logout button (a POST form)
        self.page.click("#logout-form button")
        self.page.wait_for_load_state()
        self.page.context.clear_cookies()

    def shot(self, label: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        self.shots += 1
        path = ARTIFACTS / f"{self.name}-{self.shots:02d}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def staff_browser(browser: Any, live_server: Any, request: pytest.FixtureRequest) -> Iterator[Staff]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield Staff(page, live_server.url, request.node.name)
    context.close()
    assert not errors, f"JavaScript errors on the pages: {errors}"
