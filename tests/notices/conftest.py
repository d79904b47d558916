from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Cached key verdicts, manifests and throttle counters must not leak between tests
    (each test's database rows are rolled back, the local-memory cache is not)."""
    from apps.hospitals import selectors

    cache.clear()
    selectors._PUBLISHED.clear()  # per-process memo of published releases (id, label, ETag)
    yield
    cache.clear()
    selectors._PUBLISHED.clear()
