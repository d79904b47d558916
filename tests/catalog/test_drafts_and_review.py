"""New drafts start from the release in force; the review warns about removals and emptied
fields, submitting such a draft needs a confirmation; the diff is paged and downloadable."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from apps.catalog import services
from apps.catalog.demo import generate_items
from apps.catalog.models import CatalogItem, CatalogRelease
from apps.core.errors import Conflict
from apps.core.models import AuditEvent
from tests.factories import draft_release, published_release

pytestmark = pytest.mark.django_db

ITEMS = list(generate_items(6, seed=31))


@pytest.fixture
def in_force(catalog_admin, reviewer):
    items = [{**ITEMS[0], "restriction_text": "限二级及以上医院"}, *ITEMS[1:]]
    return published_release(label="2026.01", effective_from=dt.date(2026, 1, 1), admin=catalog_admin, reviewer=reviewer, items=items)


def test_a_new_draft_starts_from_the_release_in_force_when_it_takes_effect(in_force, catalog_admin):
    draft = services.release_create_draft(label="2027.01", effective_from=dt.date(2027, 1, 1), user=catalog_admin)
    assert (draft.based_on_id, draft.items.count()) == (in_force.pk, len(ITEMS))


def test_a_new_draft_can_start_empty(in_force, catalog_admin):
    draft = services.release_create_draft(label="2027.01", effective_from=dt.date(2027, 1, 1), user=catalog_admin, based_on=None)
    assert (draft.based_on_id, draft.items.count()) == (None, 0)


def test_a_draft_before_every_release_starts_empty(in_force, catalog_admin):
    draft = services.release_create_draft(label="2025.01", effective_from=dt.date(2025, 1, 1), user=catalog_admin)
    assert (draft.based_on_id, draft.items.count()) == (None, 0)


def test_the_api_keeps_its_contract_a_draft_without_based_on_is_empty(api, in_force, catalog_admin):
    response = api(catalog_admin).post("/api/v1/releases/", {"label": "2027.01", "effective_from": "2027-01-01"}, format="json")
    assert (response.status_code, CatalogItem.objects.filter(release__label="2027.01").count()) == (201, 0)


def test_the_admin_add_form_offers_in_force_another_release_or_empty(client, in_force, catalog_admin):
    client.force_login(catalog_admin)
    page = client.get("/admin/catalog/catalogrelease/add/").content.decode()
    assert ('value="in_force" selected' in page, f'value="{in_force.pk}"' in page, 'value="empty"' in page) == (True, True, True)


@pytest.mark.parametrize(("choice", "expected"), [("in_force", len(ITEMS)), ("empty", 0)])
def test_the_admin_creates_the_draft_from_the_chosen_start(client, in_force, catalog_admin, choice, expected):
    client.force_login(catalog_admin)
    client.post(
        "/admin/catalog/catalogrelease/add/",
        {"label": "2027.01", "effective_from": "2027-01-01", "start_from": choice, "_change_reason": "new"},
    )
    assert CatalogItem.objects.filter(release__label="2027.01").count() == expected


def _draft_that_loses(in_force, user):
    draft = services.release_create_draft(label="2027.01", effective_from=dt.date(2027, 1, 1), user=user)
    services.item_delete(release=draft, code=ITEMS[5]["code"], user=user)
    services.item_delete(release=draft, code=ITEMS[4]["code"], user=user)
    services.item_put(release=draft, data={**ITEMS[0], "restriction_text": ""}, user=user)
    return draft


def test_submitting_a_draft_that_removes_items_needs_a_confirmation(in_force, catalog_admin):
    draft = _draft_that_loses(in_force, catalog_admin)
    with pytest.raises(Conflict) as err:
        services.release_submit(release=draft, user=catalog_admin)
    assert (err.value.code, CatalogRelease.objects.get(pk=draft.pk).status) == ("removals_not_confirmed", "draft")


def test_a_confirmed_submission_goes_to_review_and_says_so_in_the_audit(in_force, catalog_admin):
    draft = _draft_that_loses(in_force, catalog_admin)
    services.release_submit(release=draft, user=catalog_admin, confirm_removals=True)
    event = AuditEvent.objects.filter(action="release.submitted").latest("id")
    assert (CatalogRelease.objects.get(pk=draft.pk).status, event.detail["confirmed_removals"]) == ("in_review", True)


def test_a_draft_that_only_adds_is_submitted_without_confirmation(in_force, catalog_admin):
    draft = services.release_create_draft(label="2027.01", effective_from=dt.date(2027, 1, 1), user=catalog_admin)
    services.item_put(release=draft, data=next(generate_items(1, seed=77, start=5000)), user=catalog_admin)
    assert services.release_submit(release=draft, user=catalog_admin).status == "in_review"


def test_the_review_page_warns_with_the_counts(client, in_force, catalog_admin):
    draft = _draft_that_loses(in_force, catalog_admin)
    client.force_login(catalog_admin)
    page = client.get(f"/catalog/releases/{draft.label}/review/").content.decode()
    assert ('id="review-warning"' in page, "2 items are removed" in page, "1 field is emptied (on 1 item)" in page) == (True, True, True)
    assert 'name="confirm_removals"' in page


def test_the_review_page_submit_without_the_tick_is_refused_and_with_it_goes_through(client, in_force, catalog_admin):
    draft = _draft_that_loses(in_force, catalog_admin)
    client.force_login(catalog_admin)
    refused = client.post(f"/catalog/releases/{draft.label}/submit/", follow=True).content.decode()
    status_after_refusal = CatalogRelease.objects.get(pk=draft.pk).status
    client.post(f"/catalog/releases/{draft.label}/submit/", {"confirm_removals": "yes"})
    assert ("removals_not_confirmed" in refused, status_after_refusal, CatalogRelease.objects.get(pk=draft.pk).status) == (
        True,
        "draft",
        "in_review",
    )


def test_changed_rows_show_the_item_name_and_old_and_new_side_by_side(client, in_force, catalog_admin):
    draft = services.release_create_draft(label="2027.01", effective_from=dt.date(2027, 1, 1), user=catalog_admin)
    services.item_put(release=draft, data={**ITEMS[1], "manufacturer": "新厂家有限公司"}, user=catalog_admin)
    client.force_login(catalog_admin)
    page = client.get(f"/catalog/releases/{draft.label}/review/?change=changed").content.decode()
    row = page[page.index('class="diff-row diff-changed"') :]
    row = row[: row.index("</tr>")]
    assert (ITEMS[1]["name"] in row, ITEMS[1]["manufacturer"] in row, "新厂家有限公司" in row, row.index("old") < row.index("new")) == (
        True,
        True,
        True,
        True,
    )


def test_the_diff_is_paged(client, catalog_admin, reviewer):
    published_release(label="2026.01", effective_from=dt.date(2026, 1, 1), admin=catalog_admin, reviewer=reviewer, count=5)
    draft = draft_release(label="2027.01", effective_from=dt.date(2027, 1, 1), user=catalog_admin, based_on=None)
    services.item_put(release=draft, data=next(generate_items(1, seed=3, start=7000)), user=catalog_admin)
    from apps.catalog import views

    client.force_login(catalog_admin)
    views.DIFF_PAGE_SIZE, size = 2, views.DIFF_PAGE_SIZE
    try:
        first = client.get(f"/catalog/releases/{draft.label}/review/").content.decode()
        third = client.get(f"/catalog/releases/{draft.label}/review/?page=3").content.decode()
    finally:
        views.DIFF_PAGE_SIZE = size
    assert (first.count('class="diff-row'), "page 1 of 3" in first, third.count('class="diff-row')) == (2, True, 2)


def test_the_diff_downloads_as_csv_with_names_and_before_after(client, in_force, catalog_admin):
    draft = _draft_that_loses(in_force, catalog_admin)
    client.force_login(catalog_admin)
    response = client.get(f"/catalog/releases/{draft.label}/diff.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    cleared = next(r for r in rows if r["change"] == "changed")
    removed = sorted(r["code"] for r in rows if r["change"] == "removed")
    assert (response["Content-Type"].startswith("text/csv"), cleared["field"], cleared["before"], cleared["after"], cleared["name"]) == (
        True,
        "restriction_text",
        "限二级及以上医院",
        "",
        ITEMS[0]["name"],
    )
    assert removed == sorted([ITEMS[4]["code"], ITEMS[5]["code"]])


def test_the_item_list_defaults_to_the_release_in_force(client, in_force, catalog_admin):
    draft = draft_release(label="2027.01", effective_from=dt.date(2027, 1, 1), user=catalog_admin, based_on=None)
    services.item_put(release=draft, data=next(generate_items(1, seed=3, start=7000)), user=catalog_admin)
    client.force_login(catalog_admin)
    default = client.get("/admin/catalog/catalogitem/")
    everything = client.get("/admin/catalog/catalogitem/?release=all")
    assert (default.context["cl"].result_count, everything.context["cl"].result_count) == (len(ITEMS), len(ITEMS) + 1)
