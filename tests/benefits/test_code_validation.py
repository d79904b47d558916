"""POST /api/v1/catalog/validate/ and GET /api/v1/catalog/local-items/: what a hospital checks
its codes against, on a date, for its own province."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.benefits import services
from apps.benefits.selectors import province_by_code
from apps.catalog import services as catalog
from apps.catalog.demo import generate_items
from apps.hospitals import selectors as hospital_selectors
from tests.factories import draft_release, publish
from tests.hospitals.api_helpers import hospital_client

pytestmark = pytest.mark.django_db

DRUG = "XA01ABD075A002010100483"
ALIASED = "XA01ABD075A002010100999"
FORMER = "XA01ABD075A002010104"  # a 20-character former code of ALIASED, never an item itself
SERVICE_OLD, SERVICE_NEW = "001102000010000", "001102000020000"  # retired in 2026, replaced
TCM = "T000000001"  # removed in 2026 without successor
LOCAL = "001102000010000-31"
SICHUAN_LOCAL = "001102000010000-51"
JAN_2025, JAN_2026 = dt.date(2025, 1, 1), dt.date(2026, 1, 1)
SPRING_2026 = dt.date(2026, 3, 1)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    hospital_selectors._PUBLISHED.clear()
    yield
    cache.clear()
    hospital_selectors._PUBLISHED.clear()


@pytest.fixture
def world(catalog_admin, reviewer, sh_staff, sc_maker):
    first = publish(
        draft_release(
            label="2025.01",
            effective_from=JAN_2025,
            user=catalog_admin,
            items=[
                {"code": DRUG, "name": "阿莫西林胶囊", "category": "02", "self_pay_ratio": "0.1000"},
                {"code": ALIASED, "name": "头孢克肟片", "category": "01", "replaces": [FORMER]},
                {"code": SERVICE_OLD, "name": "一般诊疗费", "category": "01"},
                {"code": TCM, "name": "黄芪", "category": "01"},
            ],
        ),
        admin=catalog_admin,
        reviewer=reviewer,
    )
    second = draft_release(label="2026.01", effective_from=JAN_2026, user=catalog_admin, based_on=first)
    catalog.item_put(
        release=second,
        data={"code": SERVICE_NEW, "name": "普通门诊诊查费", "category": "01", "replaces": [SERVICE_OLD]},
        user=catalog_admin,
    )
    catalog.item_delete(release=second, code=SERVICE_OLD, user=catalog_admin)
    catalog.item_delete(release=second, code=TCM, user=catalog_admin)
    publish(second, admin=catalog_admin, reviewer=reviewer)
    shanghai, sichuan = province_by_code("310000"), province_by_code("510000")
    services.local_item_save(
        user=sh_staff, province=shanghai, code=LOCAL, name="上海特需诊查", effective_from=JAN_2025, sunset_date=dt.date(2026, 7, 1)
    )
    services.local_item_save(
        user=sh_staff, province=shanghai, code="LAPSED-1", name="已停用", effective_from=JAN_2025, sunset_date=dt.date(2026, 2, 1)
    )
    services.local_item_save(
        user=sc_maker, province=sichuan, code=SICHUAN_LOCAL, name="四川特需", effective_from=JAN_2025, sunset_date=dt.date(2027, 1, 1)
    )
    return hospital_client()[2]


def validate(client, codes, on=SPRING_2026, **extra):
    response = client.post("/api/v1/catalog/validate/", {"on": on.isoformat(), "codes": codes, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def statuses(client, codes, **kw):
    return [(row["code"], row["status"]) for row in validate(client, codes, **kw)["results"]]


def test_each_code_gets_its_status_in_input_order(world):
    codes = ["NOPE123", DRUG, SERVICE_OLD, LOCAL, TCM, DRUG]
    assert statuses(world, codes) == [
        ("NOPE123", "unknown"),
        (DRUG, "active"),
        (SERVICE_OLD, "retired"),
        (LOCAL, "local"),
        (TCM, "retired"),
        (DRUG, "active"),
    ]


def test_the_answer_names_the_release_in_force_on_the_date(world):
    assert (validate(world, [DRUG])["release"], validate(world, [DRUG], on=dt.date(2025, 6, 1))["release"]) == ("2026.01", "2025.01")


def test_the_date_chooses_the_release_a_code_is_checked_against(world):
    assert statuses(world, [SERVICE_OLD], on=dt.date(2025, 6, 1)) == [(SERVICE_OLD, "active")]


def test_a_retired_code_names_its_successors(world):
    assert validate(world, [SERVICE_OLD, TCM])["results"] == [
        {"code": SERVICE_OLD, "status": "retired", "successors": [SERVICE_NEW]},
        {"code": TCM, "status": "retired", "successors": []},
    ]


def test_an_active_code_carries_the_item_as_the_look_up_renders_it(world):
    looked_up = world.get(f"/api/v1/catalog/items/{DRUG}/", {"on": SPRING_2026.isoformat()}).json()
    looked_up.pop("status")
    assert validate(world, [DRUG])["results"][0]["item"] == looked_up


def test_a_former_code_answers_the_item_that_replaces_it(world):
    (row,) = validate(world, [FORMER])["results"]
    assert (row["status"], row["item"]["code"]) == ("active", ALIASED)


def test_a_local_item_carries_the_row_the_local_items_feed_shows(world):
    feed = world.get("/api/v1/catalog/local-items/", {"on": SPRING_2026.isoformat()}).json()["results"]
    assert validate(world, [LOCAL])["results"][0]["local_item"] == next(row for row in feed if row["code"] == LOCAL)


def test_another_provinces_local_item_is_unknown_to_this_hospital(world):
    assert statuses(world, [SICHUAN_LOCAL]) == [(SICHUAN_LOCAL, "unknown")]


def test_a_local_item_past_its_sunset_is_not_local(world):
    assert statuses(world, ["LAPSED-1"]) == [("LAPSED-1", "unknown")]


def test_codes_are_normalised_as_everywhere_else(world):
    assert statuses(world, [" xa01abd075a002010100483 "]) == [(DRUG, "active")]


def test_a_hospital_cannot_validate_against_another_provinces_local_items(world):
    response = world.post("/api/v1/catalog/validate/", {"codes": [SICHUAN_LOCAL], "province": "510000"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "wrong_province")


def test_more_than_10000_codes_are_refused(world):
    response = world.post("/api/v1/catalog/validate/", {"codes": [DRUG] * 10_001}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")


def test_an_entry_that_is_no_code_is_refused_naming_its_index(world):
    response = world.post("/api/v1/catalog/validate/", {"codes": [DRUG, "\u3000"]}, format="json")
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "codes.1")


def test_ten_thousand_codes_cost_the_queries_ten_codes_cost(world):
    many = [item["code"] for item in generate_items(10_000, seed=3)]

    def queries(codes):
        with CaptureQueriesContext(connection) as captured:
            assert len(validate(world, codes)["results"]) == len(codes)
        # The key's last-use mark is written at most once a minute, whenever that minute ends
        # (one UPDATE): bookkeeping of the key, not the validation's statements.
        # Nor do the key's verdict and the release timeline count: both are cached for a minute in
        # the Redis that parallel test workers share, so a refill can land in either call.
        bookkeeping = ('UPDATE "hospitals_apikey"', 'SELECT "hospitals_apikey"', 'SELECT "catalog_catalogrelease"')
        return len([q for q in captured if not q["sql"].startswith(bookkeeping)])

    queries([DRUG])
    assert queries(many) == queries(many[:10]) == 5


def test_successors_are_found_without_reading_every_item_of_the_release(world):
    # The successor map reads the partial index of the items that replace something; without it
    # (catalog 0008 dropped it) it read all 500,000 items of a release: 2.5x the bare join.
    from apps.catalog.models import CatalogRelease
    from apps.catalog.sql_fragments import successor_map

    release = CatalogRelease.objects.get(label="2026.01")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a test database is small enough to scan
        cursor.execute("EXPLAIN " + successor_map(release_sql="%s"), [release.pk])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "_has_replaces" in plan, plan  # catalog_item_has_replaces, or a release partition's r<id>_has_replaces


def test_local_items_feed_lists_the_items_in_force_that_day(world):
    rows = world.get("/api/v1/catalog/local-items/", {"on": "2026-03-01"}).json()["results"]
    assert [row["code"] for row in rows] == [LOCAL]


def test_local_items_feed_of_an_earlier_day_includes_an_item_lapsed_since(world):
    rows = world.get("/api/v1/catalog/local-items/", {"on": "2026-01-15"}).json()["results"]
    assert [row["code"] for row in rows] == [LOCAL, "LAPSED-1"]


def test_a_hospital_cannot_read_another_provinces_local_items(world):
    response = world.get("/api/v1/catalog/local-items/", {"province": "510000"})
    assert (response.status_code, response.json()["code"]) == (403, "wrong_province")


def test_national_staff_name_the_province_of_the_local_items(world, catalog_admin, api):
    staff = api(catalog_admin)
    missing, named = staff.get("/api/v1/catalog/local-items/"), staff.get("/api/v1/catalog/local-items/", {"province": "510000"})
    assert (missing.status_code, [row["code"] for row in named.json()["results"]]) == (400, [SICHUAN_LOCAL])


def test_an_entry_that_normalises_to_nothing_is_refused_naming_its_index(world):
    response = world.post("/api/v1/catalog/validate/", {"codes": [DRUG, "\u200b"]}, format="json")
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "codes.1")


def test_the_release_manifest_links_the_local_items_in_force_when_it_takes_effect(world):
    link = world.get("/api/v1/catalog/releases/2026.01/").json()["local_items"]["url"]
    rows = world.get(link).json()["results"]
    assert (link.endswith("/api/v1/catalog/local-items/?on=2026-01-01"), [row["code"] for row in rows]) == (True, [LOCAL, "LAPSED-1"])
