import datetime as dt

import pytest

from apps.catalog.demo import generate_items
from apps.catalog.models import CatalogRelease
from tests.factories import draft_release, published_release

pytestmark = pytest.mark.django_db


def test_review_page_shows_field_level_changes(client, catalog_admin, reviewer):
    item = next(generate_items(1, seed=9))
    first = published_release(label="a", effective_from=dt.date(2025, 1, 1), admin=catalog_admin, reviewer=reviewer, items=[item])
    draft_release(label="b", effective_from=dt.date(2026, 1, 1), user=catalog_admin, items=[{**item, "name": "新名称"}], based_on=None)
    client.force_login(reviewer)
    page = client.get("/catalog/releases/b/review/").content.decode()
    assert "新名称" in page and item["name"] in page
    assert first.label in page


def test_review_page_buttons_run_the_workflow(client, catalog_admin, reviewer):
    draft_release(label="b", effective_from=dt.date(2026, 1, 1), user=catalog_admin, items=generate_items(3))
    client.force_login(catalog_admin)
    client.post("/catalog/releases/b/submit/")
    client.post("/catalog/releases/b/approve/")  # refused: same person
    assert CatalogRelease.objects.get(label="b").status == "in_review"
    client.force_login(reviewer)
    client.post("/catalog/releases/b/approve/")
    client.force_login(catalog_admin)
    response = client.post("/catalog/releases/b/publish/", follow=True)
    assert CatalogRelease.objects.get(label="b").status == "published"
    assert "已完成（已发布）" in response.content.decode(), response.content.decode()[-3000:]


def test_refused_action_is_shown_to_the_user(client, catalog_admin):
    draft_release(label="b", effective_from=dt.date(2026, 1, 1), user=catalog_admin, items=generate_items(1))
    client.force_login(catalog_admin)
    response = client.post("/catalog/releases/b/publish/", follow=True)
    assert "release_not_approved" in response.content.decode()


def test_admin_lists_and_published_release_is_read_only(client, catalog_admin, reviewer):
    release = published_release(label="a", effective_from=dt.date(2025, 1, 1), admin=catalog_admin, reviewer=reviewer, count=3)
    client.force_login(catalog_admin)
    assert client.get("/admin/catalog/catalogrelease/").status_code == 200
    assert client.get("/admin/catalog/catalogitem/?q=" + release.items.first().code).status_code == 200
    change_page = client.get(f"/admin/catalog/catalogrelease/{release.pk}/change/").content.decode()
    assert 'name="effective_from"' not in change_page
    assert client.post(f"/admin/catalog/catalogrelease/{release.pk}/delete/", {"post": "yes"}).status_code == 403
