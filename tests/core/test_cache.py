"""The Redis cache backend builds one redis client per connection pool (apps/core/cache.py) and
otherwise behaves as Django's, against the real Redis."""

from __future__ import annotations

import uuid

from django.core.cache import caches


def test_the_redis_caches_reuse_one_client_per_pool():
    backend = caches["api_keys"]._cache
    assert backend.get_client(write=True) is backend.get_client(write=True) is backend.get_client()


def test_values_round_trip_through_the_shared_client():
    cache = caches["api_keys"]
    key = f"test-cache-{uuid.uuid4().hex}"
    try:
        cache.set(key, {"sha": "x", "revoked": False}, 30)
        assert (cache.get(key), cache.add(key, "other", 30), cache.get(key)) == (
            {"sha": "x", "revoked": False},
            False,
            {"sha": "x", "revoked": False},
        )
    finally:
        cache.delete(key)
