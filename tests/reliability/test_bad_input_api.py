"""Bad input corpus for the JSON API: money that is negative, fractional, a string, a boolean or
overflowing on every money input (transfers, pre-check, simulation, draft items); dates out of
range on every date input; huge and deeply nested JSON bodies; codes that pass a naive regex but
fail the check rules, and Unicode confusables, on every code input. Each answer is 4xx with the
JSON error envelope ({code, detail, errors}) and nothing is written."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from apps.catalog.models import CatalogItem, CatalogRelease
from apps.pooling.models import Transfer
from tests.factories import draft_release, published_release
from tests.hospitals.api_helpers import hospital_client
from tests.pooling import conftest as pooling_fixtures
from tests.pooling.conftest import SH, account, fund

pytestmark = pytest.mark.django_db
ledger, people = pooling_fixtures.ledger, pooling_fixtures.people

# Python's int() (and so DRF's IntegerField) reads "1_000", "１００" and 100.0: money does not.
BAD_MONEY = [-1, 1.5, 100.0, "1.5", "12e3", "1_000", "１００", " 100", True, None, "abc", "1 00", 2**63, 10**30, "", [], {}]
# (ISO basic "20260101" and "2026-1-1" name one day unambiguously and are accepted, as Django does.)
BAD_DATES = ["0000-01-01", "10000-01-01", "2026-02-30", "2026-13-01", "2026-00-10", "yesterday", "", None, 20260101]
NAIVE_REGEX_CODES = ["C0001010010100103941", "X101ABD075A002010100483", "001102000010000-1234567", "T12345678"]
CONFUSABLE_CODES = ["ХA02BCA211A001010101445", "XΑ02BCA211A001010101445", "С0101010010100103941", "٠٠١١٠٢٠٠٠٠١٠٠٠٠"]


def envelope(response: Any) -> tuple[int, bool]:
    body = response.json()
    return response.status_code, {"code", "detail", "errors"} <= body.keys()


def refused(response: Any) -> tuple[int, str]:
    """Status and code of a refusal of the input itself (not a later business rule)."""
    return response.status_code, response.json()["code"]


# --- money -------------------------------------------------------------------------------------


@pytest.fixture
def funded(people: Any) -> None:
    fund(account("provincial", SH), 500_00, people)


@pytest.mark.parametrize("amount", BAD_MONEY, ids=repr)
def test_transfer_with_bad_money_is_400_and_writes_nothing(api, people, funded, amount):
    before = Transfer.objects.count()
    body = {"from_account": account("provincial", SH).pk, "to_account": account("national").pk, "amount_fen": amount, "memo": "m"}
    response = api(people.sh_maker).post("/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY="bad-money")
    assert (envelope(response), response.json()["code"], Transfer.objects.count()) == ((400, True), "validation_error", before)


def test_transfer_amount_as_a_plain_digit_string_is_still_read(api, people, funded):
    body = {"from_account": account("provincial", SH).pk, "to_account": account("national").pk, "amount_fen": "1000", "memo": "m"}
    response = api(people.sh_maker).post("/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY="digits")
    assert (response.status_code, response.json()["amount_fen"]) == (201, 1000)


def test_transfer_of_zero_fen_is_400(api, people, funded):
    body = {"from_account": account("provincial", SH).pk, "to_account": account("national").pk, "amount_fen": 0}
    response = api(people.sh_maker).post("/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY="zero")
    assert envelope(response) == (400, True)


@pytest.fixture
def claim_world(catalog_admin: Any, reviewer: Any) -> dict[str, Any]:
    from apps.benefits.models import Province

    Province.objects.get_or_create(code="310000", defaults={"name": "上海市"})
    published_release(label="2026.01", effective_from=dt.date(2026, 1, 1), admin=catalog_admin, reviewer=reviewer, count=3)
    _, _, client = hospital_client()
    return {"client": client}


def claim(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "home_province": "310000",
        "date_of_service": "2026-03-01",
        "scheme": "employee",
        "setting": "outpatient",
        "lines": [{"line_no": 1, "code": "001102000010000", "quantity": 1, "amount_fen": 1000}],
    }
    line = {k: overrides.pop(k) for k in list(overrides) if k in ("code", "quantity", "amount_fen")}
    body["lines"] = [{**body["lines"][0], **line}]
    return {**body, **overrides}


@pytest.mark.parametrize("amount", BAD_MONEY, ids=repr)
def test_precheck_line_with_bad_money_is_400(claim_world, amount):
    response = claim_world["client"].post("/api/v1/claims/precheck/", claim(amount_fen=amount), format="json")
    assert refused(response) == (400, "validation_error")


@pytest.mark.parametrize("field", ["deductible_used_fen", "fund_paid_ytd_fen"])
@pytest.mark.parametrize("amount", [-1, 1.5, "x", "1_000", "１００", 2**63, 10**30], ids=repr)
def test_precheck_year_to_date_money_that_is_bad_is_400(claim_world, field, amount):
    response = claim_world["client"].post("/api/v1/claims/precheck/", claim(**{field: amount}), format="json")
    assert refused(response) == (400, "validation_error")


@pytest.mark.parametrize("quantity", [-1, "NaN", "Infinity", 10**20, "1e400"], ids=repr)
def test_precheck_line_with_bad_quantity_is_400(claim_world, quantity):
    response = claim_world["client"].post("/api/v1/claims/precheck/", claim(quantity=quantity), format="json")
    assert refused(response) == (400, "validation_error")


@pytest.mark.parametrize("amount", BAD_MONEY, ids=repr)
def test_simulation_with_bad_money_is_400(api, catalog_admin, claim_world, amount):
    body = {**claim(amount_fen=amount), "destination_province": "310000"}
    response = api(catalog_admin).post("/api/v1/benefits/simulate/", body, format="json")
    assert refused(response) == (400, "validation_error")


@pytest.fixture
def draft(catalog_admin: Any) -> CatalogRelease:
    item = {"code": "001102000010000", "name": "一般诊疗费", "category": "01", "payment_standard_fen": 1000}
    return draft_release(label="2026.07", effective_from=dt.date(2026, 7, 1), user=catalog_admin, items=[item])


@pytest.mark.parametrize("amount", [-1, 1.5, 100.0, "1.5", "1_000", "１００", True, "abc", 2**63, 10**30], ids=repr)
def test_draft_item_with_bad_payment_standard_is_400_and_unchanged(api, catalog_admin, draft, amount):
    client = api(catalog_admin)
    item = client.get(f"/api/v1/releases/{draft.label}/items/001102000010000/").json()
    response = client.put(f"/api/v1/releases/{draft.label}/items/001102000010000/", {**item, "payment_standard_fen": amount}, format="json")
    stored = CatalogItem.objects.get(release=draft, code="001102000010000").payment_standard_fen
    assert (envelope(response), stored) == ((400, True), 1000)


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", BAD_DATES, ids=repr)
def test_new_release_with_a_date_out_of_range_is_400(api, catalog_admin, value):
    response = api(catalog_admin).post("/api/v1/releases/", {"label": "2099.01", "effective_from": value}, format="json")
    assert (envelope(response), CatalogRelease.objects.filter(label="2099.01").exists()) == ((400, True), False)


@pytest.mark.parametrize("value", BAD_DATES, ids=repr)
def test_precheck_with_a_date_of_service_out_of_range_is_400(claim_world, value):
    response = claim_world["client"].post("/api/v1/claims/precheck/", claim(date_of_service=value), format="json")
    assert refused(response) == (400, "validation_error")


@pytest.mark.parametrize("value", ["0000-01-01", "10000-01-01", "2026-02-30", "yesterday", "9999-12-31T00:00"])
def test_in_force_on_out_of_range_is_400(claim_world, value):
    response = claim_world["client"].get("/api/v1/catalog/releases/", {"in_force_on": value})
    assert envelope(response) == (400, True)


@pytest.mark.parametrize("value", ["0000-01-01", "10000-01-01", "2026-02-30", "yesterday"])
def test_item_lookup_on_a_date_out_of_range_is_400(claim_world, value):
    response = claim_world["client"].get("/api/v1/catalog/items/001102000010000/", {"on": value})
    assert envelope(response) == (400, True)


def test_item_lookup_on_the_last_representable_day_answers(claim_world):
    response = claim_world["client"].get("/api/v1/catalog/items/001102000010000/", {"on": "9999-12-31"})
    assert response.status_code in (200, 404)


# --- huge and nested JSON ----------------------------------------------------------------------


def test_a_30_mb_json_body_is_refused_with_the_error_envelope(claim_world):
    body = json.dumps(claim() | {"padding": "x" * (30 * 1024 * 1024)})
    response = claim_world["client"].generic("POST", "/api/v1/claims/precheck/", body, content_type="application/json")
    assert refused(response) == (413, "request_too_large")


def test_json_nested_100000_deep_is_400_not_a_crash(claim_world):
    body = "[" * 100_000 + "]" * 100_000
    response = claim_world["client"].generic("POST", "/api/v1/claims/precheck/", body, content_type="application/json")
    assert refused(response) == (400, "parse_error")


def test_a_claim_with_more_lines_than_allowed_is_400(claim_world):
    lines = [{"line_no": n, "code": "001102000010000", "amount_fen": 1} for n in range(1, 5_002)]
    response = claim_world["client"].post("/api/v1/claims/precheck/", claim() | {"lines": lines}, format="json")
    assert refused(response) == (400, "validation_error")


@pytest.mark.parametrize(("length", "status"), [(256, 400), (1_000_000, 413)])
def test_an_oversized_memo_is_refused(api, people, funded, length, status):
    before = Transfer.objects.count()
    body = {"from_account": account("provincial", SH).pk, "to_account": account("national").pk, "amount_fen": 1, "memo": "备" * length}
    response = api(people.sh_maker).post("/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY="big-memo")
    assert (envelope(response), Transfer.objects.count()) == ((status, True), before)


def test_malformed_json_is_400(claim_world):
    response = claim_world["client"].generic("POST", "/api/v1/claims/precheck/", '{"lines": [', content_type="application/json")
    assert refused(response) == (400, "parse_error")


# --- codes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", NAIVE_REGEX_CODES + CONFUSABLE_CODES)
def test_item_lookup_of_a_malformed_code_is_refused_not_looked_up(claim_world, code):
    response = claim_world["client"].get(f"/api/v1/catalog/items/{code}/")
    assert (envelope(response)[1], response.status_code in (400, 404)) == (True, True)


@pytest.mark.parametrize("code", NAIVE_REGEX_CODES + CONFUSABLE_CODES)
def test_precheck_line_with_a_malformed_code_is_not_covered(claim_world, code):
    response = claim_world["client"].post("/api/v1/claims/precheck/", claim(code=code), format="json")
    covered = response.status_code == 200 and any(line["covered"] for line in response.json()["lines"])
    assert (response.status_code in (200, 400), covered) == (True, False)


@pytest.mark.parametrize("code", NAIVE_REGEX_CODES + CONFUSABLE_CODES)
def test_draft_item_put_with_a_malformed_code_is_400(api, catalog_admin, draft, code):
    body = {"code": code, "name": "名称", "category": "01"}
    response = api(catalog_admin).put(f"/api/v1/releases/{draft.label}/items/{code}/", body, format="json")
    assert (envelope(response), CatalogItem.objects.filter(release=draft).count()) == ((400, True), 1)


@pytest.mark.parametrize("code", ["H3101010000l", "Н31010100001", "H99010100001", "H310101000011"])
def test_precheck_naming_a_malformed_hospital_code_is_400(api, catalog_admin, claim_world, code):
    response = api(catalog_admin).post("/api/v1/claims/precheck/", claim(hospital=code), format="json")
    assert refused(response) == (400, "validation_error")


@pytest.mark.parametrize("code", ["310001", "990000", "31OOOO", "３１００００x", "З10000"])
def test_precheck_with_a_malformed_home_province_is_400(claim_world, code):
    response = claim_world["client"].post("/api/v1/claims/precheck/", claim(home_province=code), format="json")
    assert refused(response) == (400, "validation_error")


@pytest.mark.parametrize("query", ["state=%00", "%00=1", "kind=dr%00ug"])
def test_a_nul_character_in_a_query_is_a_validation_error_not_a_500(query):
    _, _, client = hospital_client()
    response = client.get(f"/api/v1/notices/deliveries/?{query}")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
