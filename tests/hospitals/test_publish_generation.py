"""Every publish advances the publish generation in its own transaction (what the read replica is
compared against, apps.core.replica); the shared cache hears of it when the publish commits."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.cache import cache

from apps.catalog.demo import generate_items
from apps.core import replica
from apps.core.models import Generation
from tests.factories import draft_release, publish, published_release

pytestmark = pytest.mark.django_db


def _generation() -> int:
    return Generation.objects.filter(name=replica.PUBLISH).values_list("value", flat=True).first() or 0


def test_each_publish_advances_the_generation_by_one(catalog_admin: Any, reviewer: Any) -> None:
    before = _generation()
    published_release(label="2026.01", effective_from=dt.date(2026, 1, 1), admin=catalog_admin, reviewer=reviewer, count=3)
    published_release(label="2026.02", effective_from=dt.date(2026, 2, 1), admin=catalog_admin, reviewer=reviewer, count=3)
    assert _generation() == before + 2


def test_the_cache_hears_the_new_generation_when_the_publish_commits(
    catalog_admin: Any, reviewer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    cache.delete("replica:generation:catalog.publish")
    release = draft_release(label="2026.03", effective_from=dt.date(2026, 3, 1), user=catalog_admin, items=generate_items(3))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        publish(release, admin=catalog_admin, reviewer=reviewer)
        assert cache.get("replica:generation:catalog.publish") is None  # not before the commit
    for callback in callbacks:
        callback()
    assert cache.get("replica:generation:catalog.publish") == _generation()


def test_without_a_replica_reads_stay_on_the_primary() -> None:
    with replica.replica_reads() as alias:
        assert (alias, replica.reading_from_replica()) == ("default", False)
