"""API-key verdicts are cached in the shared cache only until something changes: revoking a key
or deactivating its hospital marks the verdict stale, and a request that read the row before
the change cannot put its old verdict back."""

from __future__ import annotations

import pytest

from apps.hospitals import selectors, services
from tests.hospitals.api_helpers import hospital_client

pytestmark = pytest.mark.django_db


def test_a_verdict_read_before_a_revocation_cannot_be_cached_after_it(django_capture_on_commit_callbacks):
    _h, raw, _client = hospital_client()
    prefix = raw.split(".")[0]
    old = selectors._key_record_from_db(prefix)  # a concurrent request read the row before the revocation
    with django_capture_on_commit_callbacks(execute=True):
        services.api_keys_revoke_for_hospital(hospital=_h)
    cached_late = services.api_key_cache().add(services.api_key_cache_key(prefix), old, services.API_KEY_CACHE_SECONDS)
    assert (cached_late, selectors.api_key_check(raw=raw).status) == (False, "revoked")


def test_a_deactivation_marks_every_key_of_the_hospital_stale(django_capture_on_commit_callbacks):
    h, raw, client = hospital_client()
    assert client.get("/api/v1/hospital/").status_code == 200  # verdict now cached
    with django_capture_on_commit_callbacks(execute=True):
        services.hospital_set_active(hospital=h, active=False)
    assert services.api_key_cache().get(services.api_key_cache_key(raw.split(".")[0])) == services.STALE
    assert client.get("/api/v1/hospital/").status_code == 401


def test_a_live_key_is_answered_from_the_cache_after_its_first_use(django_assert_num_queries):
    _h, raw, _client = hospital_client()
    selectors.api_key_check(raw=raw)
    with django_assert_num_queries(0):
        assert selectors.api_key_check(raw=raw).status == "ok"
