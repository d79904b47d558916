"""The catalog read API as a hospital system uses it (API.md "Catalog — hospitals")."""

import datetime as dt
import gzip
import hashlib
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.catalog.demo import generate_items
from apps.catalog.models import CatalogItem
from apps.core.services import token_issue
from tests.factories import draft_release, publish
from tests.hospitals.api_helpers import hospital_client

pytestmark = pytest.mark.django_db

DRUG = "XA01ABD075A002010100483"  # kept; 乙 -> 甲 in 2026
NEW_DRUG = "XA01ABD075A002010100999"  # 2025 item whose former 20-char code is FORMER
FORMER = "XA01ABD075A002010104"
SERVICE_OLD = "001102000010000"  # retired in 2026, replaced by SERVICE_NEW
SERVICE_NEW = "001102000020000"
TCM = "T000000001"  # removed in 2026 without successor
CONSUMABLE = "C0101010010100103941"
JAN_2025, JAN_2026 = dt.date(2025, 1, 1), dt.date(2026, 1, 1)


def _item(code, kind_name, category="01", **extra):
    return {"code": code, "name": kind_name, "category": category, **extra}


@pytest.fixture
def releases(catalog_admin, reviewer):
    first_items = [
        _item(DRUG, "阿莫西林胶囊", "02", self_pay_ratio="0.1000"),
        _item(NEW_DRUG, "头孢克肟片", replaces=[FORMER]),
        _item(SERVICE_OLD, "一般诊疗费"),
        _item(TCM, "黄芪"),
        _item(CONSUMABLE, "一次性使用无菌注射器", "02"),
        *generate_items(30, seed=5, start=100),
    ]
    first = publish(
        draft_release(label="2025.01", effective_from=JAN_2025, user=catalog_admin, items=first_items),
        admin=catalog_admin,
        reviewer=reviewer,
    )
    second = draft_release(label="2026.01", effective_from=JAN_2026, user=catalog_admin, based_on=first)
    from apps.catalog import services

    services.item_put(release=second, data=_item(DRUG, "阿莫西林胶囊", "01"), user=catalog_admin)
    services.item_put(release=second, data=_item(SERVICE_NEW, "普通门诊诊查费", replaces=[SERVICE_OLD]), user=catalog_admin)
    services.item_delete(release=second, code=SERVICE_OLD, user=catalog_admin)
    services.item_delete(release=second, code=TCM, user=catalog_admin)
    second = publish(second, admin=catalog_admin, reviewer=reviewer)
    draft_release(label="2027.01", effective_from=dt.date(2027, 1, 1), user=catalog_admin, items=[_item(TCM, "黄芪")])
    return first, second


@pytest.fixture
def client(db):
    return hospital_client()[2]


def _all_pages(client, url):
    codes, pages = [], 0
    while url:
        body = client.get(url).json()
        codes += [row["code"] for row in body["results"]]
        url, pages = body["next"], pages + 1
    return codes, pages


# --- releases -------------------------------------------------------------------------------


def test_release_list_shows_published_releases_newest_first(releases, client):
    body = client.get("/api/v1/catalog/releases/").json()
    assert [r["label"] for r in body["results"]] == ["2026.01", "2025.01"]
    assert body["next"] is None


@pytest.mark.parametrize(("day", "expected"), [("2025-12-31", ["2025.01"]), ("2026-01-01", ["2026.01"]), ("2024-06-01", [])])
def test_in_force_on_returns_at_most_the_release_in_force(releases, client, day, expected):
    body = client.get(f"/api/v1/catalog/releases/?in_force_on={day}").json()
    assert [r["label"] for r in body["results"]] == expected


def test_in_force_on_with_a_bad_date_is_a_validation_error(releases, client):
    response = client.get("/api/v1/catalog/releases/?in_force_on=2026-13-01")
    assert (response.status_code, response.json()["code"], response.json()["errors"][0]["field"]) == (
        400,
        "validation_error",
        "in_force_on",
    )


@pytest.mark.parametrize("url", ["/api/v1/catalog/releases/?in_force_on=", f"/api/v1/catalog/items/{DRUG}/?on="])
def test_a_date_sent_empty_is_refused_as_blank_not_read_as_today(releases, client, url):
    response = client.get(url)
    assert (response.status_code, response.json()["code"], response.json()["errors"][0]) == (
        400,
        "validation_error",
        {"field": url.rsplit("?", 1)[1].rstrip("="), "code": "blank", "message": "may not be blank"},
    )


def test_manifest_carries_counts_checksum_and_absolute_export_urls(releases, client):
    _, second = releases
    body = client.get("/api/v1/catalog/releases/2026.01/").json()
    assert body["label"] == "2026.01" and body["effective_from"] == "2026-01-01" and body["previous"] == "2025.01"
    assert body["counts"]["total"] == CatalogItem.objects.filter(release=second).count()
    assert set(body["counts"]["by_kind"]) == {"drug", "tcm_piece", "service", "consumable"}
    assert body["sha256"] == second.sha256
    assert body["exports"]["csv_gz"]["url"] == "http://testserver/api/v1/catalog/releases/2026.01/export.csv.gz"
    assert body["exports"]["jsonl_gz"]["bytes"] == second.exports["jsonl_gz"]["bytes"]


def test_draft_release_is_404_to_hospitals(releases, client):
    response = client.get("/api/v1/catalog/releases/2027.01/")
    assert (response.status_code, response.json()["code"]) == (404, "release_unknown")


def test_draft_release_is_not_listed_nor_its_items_served(releases, client):
    assert "2027.01" not in [r["label"] for r in client.get("/api/v1/catalog/releases/").json()["results"]]
    assert client.get("/api/v1/catalog/releases/2027.01/items/").status_code == 404


def test_manifest_answers_304_to_its_etag(releases, client):
    etag = client.get("/api/v1/catalog/releases/2025.01/")["ETag"]
    response = client.get("/api/v1/catalog/releases/2025.01/", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response["ETag"] == etag and response.content == b""


def test_manifest_with_a_stale_etag_is_sent_again(releases, client):
    response = client.get("/api/v1/catalog/releases/2025.01/", HTTP_IF_NONE_MATCH='"m1-stale"')
    assert response.status_code == 200


def test_conditional_manifest_get_costs_at_most_one_query(releases, client, django_assert_max_num_queries):
    client.get("/api/v1/hospital/")  # the key's verdict is cached, as for any caller after its first request
    from apps.hospitals.selectors import MANIFEST_VERSION

    etag = f'"{MANIFEST_VERSION}-{releases[0].sha256}"'
    with django_assert_max_num_queries(1):
        response = client.get("/api/v1/catalog/releases/2025.01/", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304


# --- items ----------------------------------------------------------------------------------


def test_items_page_through_the_whole_release_by_code(releases, client):
    codes, pages = _all_pages(client, "/api/v1/catalog/releases/2025.01/items/?page_size=7")
    expected = list(CatalogItem.objects.filter(release=releases[0]).order_by("code").values_list("code", flat=True))
    assert codes == expected
    assert pages == -(-len(expected) // 7)


def test_items_carry_the_release_label(releases, client):
    row = client.get("/api/v1/catalog/releases/2026.01/items/?page_size=1").json()["results"][0]
    assert row["release"] == "2026.01" and {"code", "kind", "name", "category"} <= set(row)


def test_items_filter_by_kind_and_payment_category(releases, client):
    rows = client.get("/api/v1/catalog/releases/2025.01/items/?kind=drug&category=02&page_size=1000").json()["results"]
    assert rows and all(r["kind"] == "drug" and r["category"] == "02" for r in rows)
    assert DRUG in [r["code"] for r in rows]


def test_items_changed_since_lists_only_added_and_changed_items(releases, client):
    codes, _ = _all_pages(client, "/api/v1/catalog/releases/2026.01/items/?changed_since=2025.01")
    assert codes == sorted([DRUG, SERVICE_NEW])


def test_items_with_unknown_kind_are_refused(releases, client):
    response = client.get("/api/v1/catalog/releases/2025.01/items/?kind=potion")
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "kind")


def test_item_pages_cost_the_same_queries_whatever_their_size(releases, client):
    client.get("/api/v1/catalog/releases/2025.01/items/?page_size=1")  # warm key and manifest caches
    counts = []
    for size in (2, 30, 1000):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/api/v1/catalog/releases/2025.01/items/?page_size={size}").status_code == 200
        counts.append(len(queries))
    assert counts == [1, 1, 1]


# --- exports --------------------------------------------------------------------------------


def test_csv_export_is_the_published_file_with_its_checksums(releases, client):
    first, _ = releases
    response = client.get("/api/v1/catalog/releases/2025.01/export.csv.gz")
    body = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert int(response["Content-Length"]) == len(body) == first.exports["csv_gz"]["bytes"]
    assert response["ETag"] == f'"{hashlib.sha256(body).hexdigest()}"'
    assert hashlib.sha256(gzip.decompress(body)).hexdigest() == first.sha256


def test_jsonl_export_has_one_line_per_item(releases, client):
    first, _ = releases
    response = client.get("/api/v1/catalog/releases/2025.01/export.jsonl.gz", HTTP_ACCEPT="application/gzip")
    lines = gzip.decompress(b"".join(response.streaming_content)).decode().splitlines()
    assert len(lines) == first.counts["total"]
    assert json.loads(lines[0])["code"] == min(CatalogItem.objects.filter(release=first).values_list("code", flat=True))


def test_export_answers_304_to_its_etag(releases, client):
    etag = f'"{releases[0].exports["csv_gz"]["sha256"]}"'
    assert client.get("/api/v1/catalog/releases/2025.01/export.csv.gz", HTTP_IF_NONE_MATCH=etag).status_code == 304


# --- diff -----------------------------------------------------------------------------------


def test_diff_since_a_label_lists_retired_codes_with_successors(releases, client):
    body = client.get("/api/v1/catalog/releases/2026.01/diff/?since=2025.01").json()
    assert body["retired"] == [{"code": SERVICE_OLD, "successors": [SERVICE_NEW]}]
    assert body["removed"] == [TCM]
    assert [c["code"] for c in body["changed"]] == [DRUG]
    assert [a["code"] for a in body["added"]] == [SERVICE_NEW]
    assert body["counts"] == {"added": 1, "removed": 1, "changed": 1, "retired": 1}


def test_diff_since_an_unknown_label_is_a_validation_error(releases, client):
    response = client.get("/api/v1/catalog/releases/2026.01/diff/?since=2027.01")
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "since")


# --- look-up by code and date ---------------------------------------------------------------


def test_lookup_before_a_future_release_takes_effect_answers_the_release_in_force(releases, client):
    body = client.get(f"/api/v1/catalog/items/{DRUG}/?on=2025-12-31").json()
    assert (body["status"], body["release"], body["category"]) == ("active", "2025.01", "02")


def test_lookup_once_the_future_release_takes_effect_answers_the_new_release(releases, client):
    body = client.get(f"/api/v1/catalog/items/{DRUG}/?on=2026-01-01").json()
    assert (body["status"], body["release"], body["category"]) == ("active", "2026.01", "01")


def test_retired_code_answers_with_its_successors(releases, client):
    response = client.get(f"/api/v1/catalog/items/{SERVICE_OLD}/?on=2026-02-01")
    assert response.status_code == 200
    assert response.json() == {"code": SERVICE_OLD, "status": "retired", "retired_in": "2026.01", "successors": [SERVICE_NEW]}


def test_removed_code_is_retired_without_successors(releases, client):
    body = client.get(f"/api/v1/catalog/items/{TCM}/?on=2026-02-01").json()
    assert (body["status"], body["successors"]) == ("retired", [])


def test_former_code_resolves_to_the_item_that_replaced_it(releases, client):
    body = client.get(f"/api/v1/catalog/items/{FORMER}/?on=2025-06-01").json()
    assert (body["status"], body["code"], body["former_code"]) == ("active", NEW_DRUG, FORMER)


def test_code_never_seen_is_404_code_unknown(releases, client):
    response = client.get("/api/v1/catalog/items/XZ99ZZZ999Z999999999999/?on=2026-02-01")
    assert (response.status_code, response.json()["code"]) == (404, "code_unknown")


def test_lookup_normalises_the_code(releases, client):
    body = client.get("/api/v1/catalog/items/ｔ000000001/?on=2025-06-01").json()
    assert body["code"] == TCM


def test_lookup_on_a_bad_date_is_a_validation_error(releases, client):
    response = client.get(f"/api/v1/catalog/items/{DRUG}/?on=yesterday")
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "on")


# --- who may call ---------------------------------------------------------------------------


def test_staff_with_a_token_may_read_the_hospital_catalog_api(releases, auditor):
    staff_client = APIClient()
    staff_client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=auditor)}")
    assert staff_client.get("/api/v1/catalog/releases/2025.01/").status_code == 200


def test_hospital_key_cannot_use_staff_endpoints(releases, client):
    response = client.get("/api/v1/releases/")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
