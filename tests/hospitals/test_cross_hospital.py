"""A hospital reaches only its own objects: every hospital-scoped endpoint tried with another
hospital's key answers 404/403 or a list without the other's data, never the data."""

import pytest

from tests.hospitals.api_helpers import hospital_client, key_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_hospitals():
    a, a_key, _ = hospital_client("H31010100001", "310000")
    b, b_key, _ = hospital_client("H51010100002", "510000")
    return {"a": (a, a_key), "b": (b, b_key)}


# (method, path template, expected status when B asks for A's object); {prefix} is A's key prefix.
OBJECT_ENDPOINTS = [
    ("get", "/api/v1/hospital/keys/{prefix}/", 404),
    ("post", "/api/v1/hospital/keys/{prefix}/revoke/", 404),
]
# Lists a hospital may call: B's answer must not mention A.
LIST_ENDPOINTS = [
    "/api/v1/hospital/",
    "/api/v1/hospital/keys/",
    "/api/v1/notices/",
    "/api/v1/notices/deliveries/",
    "/api/v1/webhooks/endpoints/",
]


@pytest.mark.parametrize(("method", "template", "expected"), OBJECT_ENDPOINTS)
def test_another_hospitals_object_is_not_reachable(two_hospitals, method, template, expected):
    a_key, b_key = two_hospitals["a"][1], two_hospitals["b"][1]
    url = template.format(prefix=a_key.split(".")[0])
    response = getattr(key_client(b_key), method)(url)
    assert response.status_code == expected
    assert set(response.json()) == {"code", "detail", "errors"}  # an error envelope, no key data


@pytest.mark.parametrize(("method", "template", "_"), OBJECT_ENDPOINTS)
def test_own_object_is_reachable_with_own_key(two_hospitals, method, template, _):
    a_key = two_hospitals["a"][1]
    response = getattr(key_client(a_key), method)(template.format(prefix=a_key.split(".")[0]))
    assert response.status_code == 200


def test_another_hospital_cannot_revoke_my_key(two_hospitals):
    a_key, b_key = two_hospitals["a"][1], two_hospitals["b"][1]
    key_client(b_key).post(f"/api/v1/hospital/keys/{a_key.split('.')[0]}/revoke/")
    assert key_client(a_key).get("/api/v1/hospital/").status_code == 200


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
def test_lists_never_show_another_hospitals_data(two_hospitals, url):
    a, a_key = two_hospitals["a"]
    response = key_client(two_hospitals["b"][1]).get(url)
    assert response.status_code in (200, 403, 404)
    text = response.content.decode()
    assert a.code not in text and a_key.split(".")[0] not in text
