"""Per-key rate limit with the counters in Redis (shared by every web process)."""

import uuid

import pytest
from django.core.cache import caches
from django.test import override_settings

from tests.hospitals.api_helpers import hospital, issue_key, key_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_throttle(settings, redis_url):
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"t-{uuid.uuid4().hex}",
        },
    }
    settings.API_THROTTLE_CACHE = "throttle"
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "3/min"}}):
        yield caches["throttle"]
    caches["throttle"].clear()


def test_requests_over_the_key_rate_get_429_with_retry_after(redis_throttle):
    client = key_client(issue_key(hospital()))
    statuses = [client.get("/api/v1/hospital/").status_code for _ in range(4)]
    response = client.get("/api/v1/hospital/")
    assert statuses == [200, 200, 200, 429]
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60


def test_each_key_has_its_own_budget(redis_throttle):
    h = hospital()
    first, second = key_client(issue_key(h)), key_client(issue_key(h))
    for _ in range(3):
        first.get("/api/v1/hospital/")
    assert first.get("/api/v1/hospital/").status_code == 429
    assert second.get("/api/v1/hospital/").status_code == 200


def test_counters_live_in_redis(redis_throttle):
    client = key_client(issue_key(hospital()))
    client.get("/api/v1/hospital/")
    assert any(k for k in redis_throttle._cache.get_client().keys(f"{redis_throttle.key_prefix}*"))


def test_concurrent_requests_of_one_key_are_admitted_exactly_to_the_rate(redis_throttle):
    """Twenty requests at once from as many threads (web processes share Redis the same way): the
    admission is one atomic step on the server, so three pass, never more."""
    import threading
    from types import SimpleNamespace

    from apps.hospitals.api.auth import ApiKeyRateThrottle

    request = SimpleNamespace(user=SimpleNamespace(is_hospital=True, key_prefix=f"race{uuid.uuid4().hex[:8]}"))
    start, admitted, lock = threading.Barrier(20), [], threading.Lock()

    def one() -> None:
        throttle = ApiKeyRateThrottle()
        start.wait()
        allowed = throttle.allow_request(request, None)  # type: ignore[arg-type]  # only .user is read
        with lock:
            admitted.append(allowed)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert admitted.count(True) == 3


def test_a_key_holds_one_number_and_a_refusal_waits_one_interval(redis_throttle):
    client = key_client(issue_key(hospital()))
    for _ in range(3):
        client.get("/api/v1/hospital/")
    refused = client.get("/api/v1/hospital/")
    stored = [redis_throttle._cache.get_client().get(k) for k in redis_throttle._cache.get_client().keys(f"{redis_throttle.key_prefix}*")]
    # 3/min: one request every 20 s once the burst of three is spent
    assert (refused.status_code, 15 <= int(refused["Retry-After"]) <= 20) == (429, True)
    assert len(stored) == 1 and stored[0].isdigit()
