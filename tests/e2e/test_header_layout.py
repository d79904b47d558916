"""The admin header at 1,280 px, in a real browser: a superuser (who sees every staff page link)
gets the site name and the user links on one row each and the staff page links on one row of
their own, in Chinese; a screenshot of the header goes to var/screenshots/."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.e2e.conftest import PASSWORD
from tests.e2e.test_finance_transfer_flow import PAGE_WIDTH, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Distinct top edges of the links: one value means one line.
LINK_ROWS = "sel => new Set([...document.querySelectorAll(sel)].map(a => Math.round(a.getBoundingClientRect().top))).size"
HEIGHT = "sel => document.querySelector(sel).getBoundingClientRect().height"
# Line boxes of an inline element: one client rectangle per line it spans.
LINE_COUNT = "sel => document.querySelector(sel).getClientRects().length"


def test_the_staff_page_links_of_a_superuser_fit_one_row_at_1280_px_in_chinese(staff_browser):
    get_user_model().objects.create_superuser("e2e-root", "root@example.org", PASSWORD)
    browser = staff_browser
    browser.page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": browser.base_url}])
    browser.log_in("e2e-root")
    page = browser.open("/admin/")
    assert page.locator("#portal-staff-pages a").count() >= 10  # every page: the widest header there is
    assert page.evaluate(LINK_ROWS, "#portal-staff-pages a") == 1
    assert page.evaluate(LINE_COUNT, "#site-name a") == 1
    assert page.evaluate(HEIGHT, "#user-tools") <= 40  # one row of links, the language menu and buttons
    assert page.evaluate(PAGE_WIDTH) <= 1280
    screenshot(page, "admin-header-1280")
