import datetime as dt

import pytest

from apps.catalog.demo import generate_items
from apps.catalog.models import CatalogItem, CatalogRelease
from tests.factories import published_release

pytestmark = pytest.mark.django_db
ITEM = next(generate_items(1, seed=3))


def _draft(api, user, label="2026.01"):
    response = api(user).post("/api/v1/releases/", {"label": label, "effective_from": "2026-01-01"}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_staff_creates_a_draft_and_edits_items(api, catalog_admin):
    _draft(api, catalog_admin)
    response = api(catalog_admin).put(f"/api/v1/releases/2026.01/items/{ITEM['code']}/", ITEM, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["code"], body["kind"], body["release"]) == (ITEM["code"], "drug" if ITEM["code"][0] in "XZ" else body["kind"], "2026.01")


def test_put_refuses_unknown_fields(api, catalog_admin):
    _draft(api, catalog_admin)
    response = api(catalog_admin).put(f"/api/v1/releases/2026.01/items/{ITEM['code']}/", {**ITEM, "colour": "red"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert any(e["field"] == "colour" for e in response.json()["errors"])


def test_put_with_a_bad_code_names_field_and_reason(api, catalog_admin):
    _draft(api, catalog_admin)
    response = api(catalog_admin).put("/api/v1/releases/2026.01/items/XA01/", {**ITEM, "code": "XA01"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "code"


def test_a_put_to_one_item_never_writes_another(api, catalog_admin):
    """The URL names the item: a body naming another code is refused, nothing is written; the
    same code in another spelling (lower case) is the same item."""
    _draft(api, catalog_admin)
    other = next(generate_items(2, seed=9))
    refused = api(catalog_admin).put(f"/api/v1/releases/2026.01/items/{ITEM['code']}/", {**ITEM, "code": other["code"]}, format="json")
    same = api(catalog_admin).put(f"/api/v1/releases/2026.01/items/{ITEM['code']}/", {**ITEM, "code": ITEM["code"].lower()}, format="json")
    assert (refused.status_code, refused.json()["errors"][0]["code"], same.status_code) == (400, "code_mismatch", 200)
    assert list(CatalogItem.objects.filter(release__label="2026.01").values_list("code", flat=True)) == [ITEM["code"]]


def test_restriction_days_beyond_the_column_are_a_field_error_not_a_crash(api, catalog_admin):
    _draft(api, catalog_admin)
    response = api(catalog_admin).put(
        f"/api/v1/releases/2026.01/items/{ITEM['code']}/", {**ITEM, "restriction_max_days": 2**31}, format="json"
    )
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "restriction_max_days")


def test_workflow_over_the_api(api, catalog_admin, reviewer):
    _draft(api, catalog_admin)
    api(catalog_admin).put(f"/api/v1/releases/2026.01/items/{ITEM['code']}/", ITEM, format="json")
    assert api(catalog_admin).post("/api/v1/releases/2026.01/submit/").status_code == 200
    refused = api(catalog_admin).post("/api/v1/releases/2026.01/approve/")
    assert (refused.status_code, refused.json()["code"]) == (409, "same_user_cannot_approve")
    assert api(reviewer).post("/api/v1/releases/2026.01/approve/").json()["status"] == "approved"
    published = api(catalog_admin).post("/api/v1/releases/2026.01/publish/").json()
    assert published["status"] == "published"
    assert published["counts"]["total"] == 1


def test_publish_before_approval_is_409(api, catalog_admin):
    _draft(api, catalog_admin)
    response = api(catalog_admin).post("/api/v1/releases/2026.01/publish/")
    assert (response.status_code, response.json()["code"]) == (409, "release_not_approved")


def test_item_edit_on_a_published_release_is_409_release_not_draft(api, catalog_admin, reviewer):
    release = published_release(label="p", effective_from=dt.date(2025, 1, 1), admin=catalog_admin, reviewer=reviewer, count=2)
    code = CatalogItem.objects.filter(release=release).first().code
    for response in (
        api(catalog_admin).put(f"/api/v1/releases/p/items/{code}/", ITEM, format="json"),
        api(catalog_admin).delete(f"/api/v1/releases/p/items/{code}/"),
    ):
        assert (response.status_code, response.json()["code"]) == (409, "release_not_draft")


def test_reject_needs_reason_and_returns_to_draft(api, catalog_admin, reviewer):
    _draft(api, catalog_admin)
    api(catalog_admin).put(f"/api/v1/releases/2026.01/items/{ITEM['code']}/", ITEM, format="json")
    api(catalog_admin).post("/api/v1/releases/2026.01/submit/")
    assert api(reviewer).post("/api/v1/releases/2026.01/reject/", {}, format="json").status_code == 400
    response = api(reviewer).post("/api/v1/releases/2026.01/reject/", {"reason": "wrong dates"}, format="json")
    assert (response.json()["status"], response.json()["rejection_reason"]) == ("draft", "wrong dates")


def test_diff_endpoint(api, catalog_admin, reviewer):
    items = list(generate_items(3, seed=5))
    first = published_release(label="a", effective_from=dt.date(2025, 1, 1), admin=catalog_admin, reviewer=reviewer, items=items[:2])
    published_release(label="b", effective_from=dt.date(2026, 1, 1), admin=catalog_admin, reviewer=reviewer, items=items[1:], based_on=None)
    body = api(reviewer).get("/api/v1/releases/b/diff/?against=a").json()
    assert body["counts"] == {"added": 1, "removed": 1, "changed": 0, "retired": 0}
    assert [i["code"] for i in body["added"]] == [items[2]["code"]]
    assert body["removed"] == [items[0]["code"]]
    assert first.label == body["against"]


def test_created_draft_copies_based_on(api, catalog_admin, reviewer):
    published_release(label="a", effective_from=dt.date(2025, 1, 1), admin=catalog_admin, reviewer=reviewer, count=4)
    response = api(catalog_admin).post("/api/v1/releases/", {"label": "b", "effective_from": "2026-01-01", "based_on": "a"}, format="json")
    assert response.status_code == 201
    assert CatalogItem.objects.filter(release__label="b").count() == 4


def test_items_list_is_cursor_paginated(api, catalog_admin, reviewer):
    published_release(label="a", effective_from=dt.date(2025, 1, 1), admin=catalog_admin, reviewer=reviewer, count=7)
    first = api(reviewer).get("/api/v1/releases/a/items/?page_size=5").json()
    assert len(first["results"]) == 5 and first["next"].startswith("http://testserver/")
    second = api(reviewer).get(first["next"]).json()
    assert len(second["results"]) == 2 and second["next"] is None
    codes = [i["code"] for i in first["results"] + second["results"]]
    assert codes == sorted(codes)


def test_anonymous_is_401_and_non_staff_is_403(api, db):
    from django.contrib.auth import get_user_model

    assert api().get("/api/v1/releases/").json()["code"] == "not_authenticated"
    assert api().get("/api/v1/releases/").status_code == 401
    plain = get_user_model().objects.create_user("plain")
    response = api(plain).get("/api/v1/releases/")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_auditor_cannot_create_drafts(api, auditor):
    response = api(auditor).post("/api/v1/releases/", {"label": "x", "effective_from": "2026-01-01"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert not CatalogRelease.objects.exists()
