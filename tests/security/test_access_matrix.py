"""Access-control matrix: every API endpoint (from the URL resolver) × ten callers → the expected
status, and zero leaks of hospital A's / province A's data to hospital B or province B staff.

Every request targets A's objects (tests/security/world.py), so for a B caller anything but a
refusal would be a leak. Writes run inside a savepoint that is rolled back, so each cell sees the
same world. A new endpoint or method without a row here fails test_every_endpoint_has_a_row."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import transaction

from tests.security.endpoints import REQUESTS, api_endpoints
from tests.security.world import (
    CALLERS,
    HOSPITAL_B,
    PROVINCE_B_STAFF,
    World,
    build_world,
)

# Callers, in CALLERS order:
#    anonymous, hospital A key, hospital B key, revoked key, province A staff, province B staff,
#    finance maker (A), finance checker (A), auditor, catalog admin.
# 400 for staff on pre-check/simulation = allowed, refused on content (no benefit policy in force).
# 409 = allowed past the permission check, refused by the workflow (state, maker-checker).
EXPECTED: dict[tuple[str, str], tuple[int, ...]] = {
    ("account-detail", "get"): (401, 403, 403, 401, 200, 404, 200, 200, 200, 200),
    ("account-entries", "get"): (401, 403, 403, 401, 200, 404, 200, 200, 200, 200),
    ("account-list", "get"): (401, 403, 403, 401, 200, 200, 200, 200, 200, 200),
    ("audit-event-list", "get"): (401, 403, 403, 401, 403, 403, 403, 403, 200, 403),
    ("benefits-simulate", "post"): (401, 403, 403, 401, 400, 400, 400, 400, 400, 400),
    ("catalog-local-items", "get"): (401, 200, 403, 401, 200, 403, 200, 200, 200, 200),
    ("catalog-validate", "post"): (401, 200, 403, 401, 200, 403, 200, 200, 200, 200),
    ("claims-precheck", "post"): (401, 400, 403, 401, 400, 400, 400, 400, 400, 400),
    ("fhir-codesystem-lookup", "get"): (401, 200, 200, 401, 200, 200, 200, 200, 200, 200),
    ("fhir-codesystem-read", "get"): (401, 200, 200, 401, 200, 200, 200, 200, 200, 200),
    ("fhir-codesystem-search", "get"): (401, 200, 200, 401, 200, 200, 200, 200, 200, 200),
    ("fhir-codesystem-validate-code", "get"): (401, 200, 200, 401, 200, 200, 200, 200, 200, 200),
    ("fhir-conceptmap-translate", "get"): (401, 200, 200, 401, 200, 200, 200, 200, 200, 200),
    ("fhir-metadata", "get"): (200, 200, 200, 401, 200, 200, 200, 200, 200, 200),
    ("hospital-catalog-diff", "get"): (401, 200, 200, 401, 200, 200, 200, 200, 200, 200),
    ("hospital-catalog-export-csv", "get"): (401, 200, 200, 401, 200, 200, 200, 200, 200, 200),
    ("hospital-catalog-export-jsonl", "get"): (401, 200, 200, 401, 200, 200, 200, 200, 200, 200),
    ("hospital-catalog-item", "get"): (401, 200, 200, 401, 200, 200, 200, 200, 200, 200),
    ("hospital-catalog-items", "get"): (401, 200, 200, 401, 200, 200, 200, 200, 200, 200),
    ("hospital-catalog-release", "get"): (401, 200, 200, 401, 200, 200, 200, 200, 200, 200),
    ("hospital-catalog-releases", "get"): (401, 200, 200, 401, 200, 200, 200, 200, 200, 200),
    ("hospital-key", "get"): (401, 200, 404, 401, 403, 403, 403, 403, 403, 403),
    ("hospital-key-revoke", "post"): (401, 200, 404, 401, 403, 403, 403, 403, 403, 403),
    ("hospital-keys", "get"): (401, 200, 200, 401, 403, 403, 403, 403, 403, 403),
    ("hospital-mappings", "get"): (401, 200, 200, 401, 403, 403, 403, 403, 403, 403),
    ("hospital-mappings", "put"): (401, 202, 202, 401, 403, 403, 403, 403, 403, 403),
    ("hospital-me", "get"): (401, 200, 200, 401, 403, 403, 403, 403, 403, 403),
    ("job-detail", "get"): (401, 404, 404, 401, 200, 200, 200, 200, 200, 200),
    ("notice-delivery-list", "get"): (401, 200, 200, 401, 200, 200, 200, 200, 200, 200),
    ("notice-delivery-replay", "post"): (401, 202, 202, 401, 403, 403, 403, 403, 403, 202),
    ("notice-item-usage", "put"): (401, 200, 200, 401, 403, 403, 403, 403, 403, 403),
    ("notice-list", "get"): (401, 200, 200, 401, 403, 403, 403, 403, 403, 403),
    ("reconciliation-run-detail", "get"): (401, 403, 403, 401, 200, 200, 200, 200, 200, 200),
    ("reconciliation-run-discrepancies", "get"): (401, 403, 403, 401, 200, 200, 200, 200, 200, 200),
    ("reconciliation-run-list", "post"): (401, 403, 403, 401, 403, 403, 202, 202, 403, 403),
    ("release-ack", "post"): (401, 201, 201, 401, 403, 403, 403, 403, 403, 403),
    ("release-approve", "post"): (401, 403, 403, 401, 403, 403, 403, 403, 403, 409),
    ("release-detail", "get"): (401, 403, 403, 401, 200, 200, 200, 200, 200, 200),
    ("release-diff", "get"): (401, 403, 403, 401, 200, 200, 200, 200, 200, 200),
    ("release-imports", "post"): (401, 403, 403, 401, 403, 403, 403, 403, 403, 202),
    ("release-item", "delete"): (401, 403, 403, 401, 403, 403, 403, 403, 403, 204),
    ("release-item", "get"): (401, 403, 403, 401, 200, 200, 200, 200, 200, 200),
    ("release-item", "put"): (401, 403, 403, 401, 403, 403, 403, 403, 403, 200),
    ("release-items", "get"): (401, 403, 403, 401, 200, 200, 200, 200, 200, 200),
    ("release-list", "get"): (401, 403, 403, 401, 200, 200, 200, 200, 200, 200),
    ("release-list", "post"): (401, 403, 403, 401, 403, 403, 403, 403, 403, 201),
    ("release-publish", "post"): (401, 403, 403, 401, 403, 403, 403, 403, 403, 409),
    ("release-reject", "post"): (401, 403, 403, 401, 403, 403, 403, 403, 403, 409),
    ("release-submit", "post"): (401, 403, 403, 401, 403, 403, 403, 403, 403, 200),
    ("schema", "get"): (200, 200, 200, 401, 200, 200, 200, 200, 200, 200),
    ("settlement-import", "post"): (401, 403, 403, 401, 403, 403, 202, 403, 403, 403),
    ("swagger-ui", "get"): (200, 200, 200, 401, 200, 200, 200, 200, 200, 200),
    ("transfer-approve", "post"): (401, 403, 403, 401, 403, 403, 409, 409, 403, 403),
    ("transfer-detail", "get"): (401, 403, 403, 401, 200, 404, 200, 200, 200, 200),
    ("transfer-list", "get"): (401, 403, 403, 401, 200, 200, 200, 200, 200, 200),
    ("transfer-list", "post"): (401, 403, 403, 401, 403, 403, 201, 403, 403, 403),
    ("transfer-reject", "post"): (401, 403, 403, 401, 403, 403, 409, 200, 403, 403),
    ("transfer-reverse", "post"): (401, 403, 403, 401, 403, 403, 409, 403, 403, 403),
    ("transfer-void", "post"): (401, 403, 403, 401, 403, 403, 200, 200, 403, 403),
    ("webhook-endpoint-list", "get"): (401, 200, 200, 401, 403, 403, 403, 403, 403, 403),
    ("webhook-endpoint-list", "post"): (401, 201, 201, 401, 403, 403, 403, 403, 403, 403),
    ("webhook-endpoint-rotate", "post"): (401, 200, 404, 401, 403, 403, 403, 403, 403, 403),
    ("webhook-endpoint-detail", "get"): (401, 200, 404, 401, 403, 403, 403, 403, 403, 403),
    ("webhook-endpoint-detail", "patch"): (401, 200, 404, 401, 403, 403, 403, 403, 403, 403),
    ("webhook-endpoint-detail", "delete"): (401, 204, 404, 401, 403, 403, 403, 403, 403, 403),
    ("webhook-endpoint-test", "post"): (401, 200, 404, 401, 403, 403, 403, 403, 403, 403),
}

MATRIX_SIZE = len(EXPECTED) * len(CALLERS)


def _call(world: World, caller: str, name: str, method: str) -> Any:
    with transaction.atomic():
        response = REQUESTS[(name, method)].send(world.client(caller), name, method, world)
        transaction.set_rollback(True)
    return response


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def _a_markers(world: World) -> list[str]:
    """Strings that only hospital A's own data contains."""
    return [world.hospital_a.code, world.hospital_a.name, world.key_a_prefix, "127.0.0.1:9/hook", world.extra["mapping_a"]]


def test_every_endpoint_has_a_row():
    endpoints = set(api_endpoints())
    assert (sorted(endpoints - set(EXPECTED)), sorted(set(EXPECTED) - endpoints)) == ([], [])


def test_every_endpoint_has_a_request():
    assert sorted(set(api_endpoints()) - set(REQUESTS)) == []


@pytest.mark.django_db
def test_every_endpoint_answers_every_caller_with_the_expected_status():
    """The whole matrix in one world (building it once keeps the suite fast); every wrong cell is listed."""
    world = build_world()
    wrong = []
    for name, method in sorted(EXPECTED):
        for column, caller in enumerate(CALLERS):
            status = _call(world, caller, name, method).status_code
            if status != EXPECTED[(name, method)][column]:
                wrong.append(f"{caller}: {method.upper()} {name} -> {status}, expected {EXPECTED[(name, method)][column]}")
    assert wrong == []


@pytest.mark.django_db
def test_no_answer_to_hospital_b_or_province_b_staff_contains_hospital_a_data():
    world = build_world()
    leaks = []
    for caller in (HOSPITAL_B, PROVINCE_B_STAFF):
        for name, method in sorted(EXPECTED):
            response = _call(world, caller, name, method)
            if response.status_code < 300 and name not in ("schema", "swagger-ui", "fhir-metadata"):
                body = _body(response)
                leaks += [f"{caller}: {method.upper()} {name} shows {marker!r}" for marker in _a_markers(world) if marker in body]
    assert leaks == []


@pytest.mark.django_db
def test_province_b_staff_list_no_province_a_accounts_transfers_or_deliveries():
    world = build_world()
    client = world.client(PROVINCE_B_STAFF)
    accounts = {row["id"] for row in client.get("/api/v1/accounts/?page_size=1000").json()["results"]}
    transfers = {row["id"] for row in client.get("/api/v1/transfers/").json()["results"]}
    deliveries = {row["id"] for row in client.get("/api/v1/notices/deliveries/").json()["results"]}
    assert (world.account_a.pk in accounts, world.transfer_a.pk in transfers, world.extra["delivery_a"] in deliveries) == (
        False,
        False,
        False,
    )


@pytest.mark.django_db
def test_province_a_staff_see_their_own_hospitals_deliveries():
    world = build_world()
    rows = world.client("province_a_staff").get("/api/v1/notices/deliveries/").json()["results"]
    assert world.extra["delivery_a"] in {row["id"] for row in rows}


@pytest.mark.django_db
def test_hospital_b_replaying_hospital_a_deliveries_replays_nothing():
    world = build_world()
    response = world.client(HOSPITAL_B).post("/api/v1/notices/deliveries/replay/", {"ids": [world.extra["delivery_a"]]}, format="json")
    assert json.loads(response.content)["replayed"] == 0


@pytest.mark.django_db
def test_reversing_a_transfer_without_the_maker_role_is_refused_before_its_state_is_told():
    world = build_world()
    response = world.client(PROVINCE_B_STAFF).post(f"/api/v1/transfers/{world.transfer_a.pk}/reverse/", {"reason": "x"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


@pytest.mark.django_db
def test_a_hospital_of_another_province_reads_none_of_hospital_a_mappings():
    world = build_world()
    mine = world.client("hospital_a_key").get("/api/v1/hospital/mappings/").json()["results"]
    theirs = world.client(HOSPITAL_B).get("/api/v1/hospital/mappings/").json()["results"]
    assert ([row["local_code"] for row in mine], theirs) == ([world.extra["mapping_a"]], [])
