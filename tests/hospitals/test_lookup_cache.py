"""The code look-up keeps the published releases in memory: one query per live code, and a
publish (in this process or any other) is seen at once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache

from apps.catalog import selectors as catalog
from apps.catalog.demo import generate_items
from apps.catalog.models import CatalogRelease
from apps.catalog.signals import release_published
from tests.factories import published_release
from tests.notices.notice_helpers import hospital, principal

pytestmark = pytest.mark.django_db
ITEMS = list(generate_items(4, seed=21))


def _release(label, effective_from, admin, reviewer, items=ITEMS):
    return published_release(label=label, effective_from=effective_from, admin=admin, reviewer=reviewer, items=items)


def test_look_up_of_a_live_code_is_one_query_once_the_timeline_is_loaded(catalog_admin, reviewer, django_assert_num_queries):
    _release("2026.01", dt.date(2026, 1, 1), catalog_admin, reviewer)
    catalog.item_lookup(code=ITEMS[0]["code"], on_date=dt.date(2026, 2, 1))
    with django_assert_num_queries(1):
        found = catalog.item_lookup(code=ITEMS[1]["code"], on_date=dt.date(2026, 3, 1))
    assert found is not None
    assert (found["status"], found["item"].code, found["release"].label) == ("active", ITEMS[1]["code"], "2026.01")


def test_item_lookup_api_answers_from_the_cached_timeline(catalog_admin, reviewer, api, django_assert_max_num_queries):
    _release("2026.01", dt.date(2026, 1, 1), catalog_admin, reviewer)
    client = api(principal(hospital(1)))
    assert client.get(f"/api/v1/catalog/items/{ITEMS[0]['code']}/?on=2026-02-01").status_code == 200
    with django_assert_max_num_queries(1):
        response = client.get(f"/api/v1/catalog/items/{ITEMS[1]['code']}/?on=2026-02-01")
    assert response.json()["release"] == "2026.01"


def test_a_release_published_after_a_look_up_is_in_force_at_once(catalog_admin, reviewer):
    first = _release("2026.01", dt.date(2026, 1, 1), catalog_admin, reviewer)
    assert catalog.item_lookup(code=ITEMS[0]["code"], on_date=dt.date(2026, 8, 1))["release"] == first
    changed = [{**ITEMS[0], "name": "renamed"}, *ITEMS[1:]]
    _release("2026.07", dt.date(2026, 7, 1), catalog_admin, reviewer, items=changed)
    found = catalog.item_lookup(code=ITEMS[0]["code"], on_date=dt.date(2026, 8, 1))
    assert (found["release"].label, found["item"].name) == ("2026.07", "renamed")
    assert catalog.item_lookup(code=ITEMS[0]["code"], on_date=dt.date(2026, 6, 30))["release"] == first


def test_a_publish_in_another_process_reloads_the_timeline(catalog_admin, reviewer, django_assert_num_queries):
    _release("2026.01", dt.date(2026, 1, 1), catalog_admin, reviewer)
    loaded = catalog.published_timeline()
    with django_assert_num_queries(0):
        assert catalog.published_timeline() is loaded
    cache.set(catalog.TIMELINE_GENERATION_KEY, "bumped-by-another-process", None)  # what its publish does
    with django_assert_num_queries(1):
        assert catalog.published_timeline() is not loaded


def test_release_published_signal_invalidates_the_timeline(catalog_admin, reviewer):
    release = _release("2026.01", dt.date(2026, 1, 1), catalog_admin, reviewer)
    before = cache.get(catalog.TIMELINE_GENERATION_KEY)
    release_published.send(sender=CatalogRelease, release=release)
    assert cache.get(catalog.TIMELINE_GENERATION_KEY) not in (None, before)


def test_an_old_timeline_is_reloaded_after_its_maximum_age(catalog_admin, reviewer, monkeypatch):
    _release("2026.01", dt.date(2026, 1, 1), catalog_admin, reviewer)
    loaded = catalog.published_timeline()
    monkeypatch.setattr(catalog, "TIMELINE_MAX_AGE", 0.0)
    assert catalog.published_timeline() is not loaded


def test_retired_code_names_the_release_it_left_in_from_the_timeline(catalog_admin, reviewer):
    _release("2025.01", dt.date(2025, 1, 1), catalog_admin, reviewer)
    successor = {**list(generate_items(5, seed=22))[4], "replaces": [ITEMS[0]["code"]]}
    _release("2026.01", dt.date(2026, 1, 1), catalog_admin, reviewer, items=[*ITEMS[1:], successor])
    _release("2027.01", dt.date(2027, 1, 1), catalog_admin, reviewer, items=[*ITEMS[1:], successor])
    found = catalog.item_lookup(code=ITEMS[0]["code"], on_date=dt.date(2027, 6, 1))
    assert (found["status"], found["retired_in"].label, found["successors"]) == ("retired", "2026.01", [successor["code"]])


def test_item_serializer_fields_built_once_still_render_each_item_its_own_values(catalog_admin, reviewer, api):
    _release("2026.01", dt.date(2026, 1, 1), catalog_admin, reviewer)
    client = api(principal(hospital(1)))
    first = client.get(f"/api/v1/catalog/items/{ITEMS[0]['code']}/?on=2026-02-01").json()
    second = client.get(f"/api/v1/catalog/items/{ITEMS[1]['code']}/?on=2026-02-01").json()
    assert (first["code"], first["name"]) == (ITEMS[0]["code"], ITEMS[0]["name"])
    assert (second["code"], second["name"]) == (ITEMS[1]["code"], ITEMS[1]["name"])
