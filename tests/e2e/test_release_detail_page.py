"""A release's detail page in a real browser: a reviewer approves through the confirmation step
and then sees no Publish button (catalog administrators publish); a screenshot at 1,280 px goes
to var/screenshots/ (not committed)."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.catalog import services
from apps.catalog.demo import generate_items
from apps.catalog.models import CatalogRelease
from apps.core.roles import Role
from tests.e2e.test_finance_transfer_flow import PAGE_WIDTH, screenshot
from tests.factories import draft_release, staff

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_reviewer_approves_on_the_detail_page_and_is_offered_no_publish(staff_browser):
    admin = staff(Role.CATALOG_ADMIN, username="e2e-catalog-admin")
    staff(Role.CATALOG_REVIEWER, username="e2e-reviewer")
    release = draft_release(label="2031.01", effective_from=dt.date(2031, 1, 1), user=admin, items=generate_items(5, seed=3))
    services.release_submit(release=release, user=admin)
    browser = staff_browser

    browser.log_in("e2e-reviewer")
    page = browser.open(f"/admin/catalog/catalogrelease/{release.pk}/change/")
    assert (page.locator("#action-approve").count(), page.locator("#action-publish").count()) == (1, 0)
    page.click("#action-approve")
    page.wait_for_selector("#confirm-action")
    page.click("#confirm-action")
    page.wait_for_selector("ul.messagelist")
    assert CatalogRelease.objects.get(pk=release.pk).status == CatalogRelease.Status.APPROVED
    assert (page.locator("#action-publish").count(), page.locator("#action-reject").count()) == (0, 1)
    assert page.evaluate(PAGE_WIDTH) <= 1280
    assert page.locator("#timeline .timeline-entry").count() >= 3
    screenshot(page, "release-detail-approved")
