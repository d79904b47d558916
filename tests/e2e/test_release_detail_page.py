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
from tests.factories import draft_release, published_release, staff

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


def test_submitting_a_draft_that_removes_items_on_its_detail_page_warns_with_counts_and_asks_to_confirm(
    staff_browser, catalog_admin, reviewer
):
    items = list(generate_items(6, seed=17))
    published_release(label="2031.01", effective_from=dt.date(2031, 1, 1), admin=catalog_admin, reviewer=reviewer, items=items)
    draft = services.release_create_draft(label="2031.07", effective_from=dt.date(2031, 7, 1), user=catalog_admin)
    for item in items[:2]:
        services.item_delete(release=draft, code=item["code"], user=catalog_admin, reason="delisted")
    browser = staff_browser
    browser.log_in("catalog-admin")

    page = browser.open(f"/admin/catalog/catalogrelease/{draft.pk}/change/")
    page.click("#action-submit")
    page.wait_for_selector("#confirm-action")
    warning = page.inner_text("#action-warning")
    assert "2" in warning and page.locator("#action-warning.errornote").count() == 1
    assert page.locator("#id_confirmed[required]").count() == 1
    screenshot(page, "release-detail-submit-removals")

    page.check("#id_confirmed")
    page.click("#confirm-action")
    page.wait_for_selector("ul.messagelist")
    submitted = CatalogRelease.objects.get(pk=draft.pk)
    assert submitted.status == CatalogRelease.Status.IN_REVIEW
    assert submitted.submitted_by == catalog_admin


def test_a_submit_posted_without_the_tick_is_refused_and_the_draft_stays_a_draft(staff_browser, catalog_admin, reviewer):
    items = list(generate_items(4, seed=19))
    published_release(label="2032.01", effective_from=dt.date(2032, 1, 1), admin=catalog_admin, reviewer=reviewer, items=items)
    draft = services.release_create_draft(label="2032.07", effective_from=dt.date(2032, 7, 1), user=catalog_admin)
    services.item_delete(release=draft, code=items[0]["code"], user=catalog_admin, reason="delisted")
    browser = staff_browser
    browser.log_in("catalog-admin")

    page = browser.open(f"/admin/catalog/catalogrelease/{draft.pk}/change/?action=submit")
    page.evaluate("document.getElementById('id_confirmed').removeAttribute('required')")  # as if posted by hand
    page.click("#confirm-action")
    page.wait_for_selector("#action-error")
    assert CatalogRelease.objects.get(pk=draft.pk).status == CatalogRelease.Status.DRAFT
