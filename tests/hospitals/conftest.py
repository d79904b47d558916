from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Cached key verdicts, manifests and throttle counters must not leak between tests
    (each test's database rows are rolled back, the local-memory cache is not)."""
    cache.clear()
    yield
    cache.clear()
