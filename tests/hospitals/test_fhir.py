"""The FHIR R4 terminology facade: every resource it emits parses with fhir.resources' models
(R4B, the R4 line it ships), on real API keys."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.parameters import Parameters
from rest_framework.test import APIClient

from apps.catalog import services as catalog
from apps.hospitals import selectors as hospital_selectors
from apps.hospitals import services as hospital_services
from apps.hospitals.api.fhir import resources
from tests.factories import draft_release, publish
from tests.hospitals.api_helpers import hospital_client

pytestmark = pytest.mark.django_db

DRUG = "XA01ABD075A002010100483"
SPLIT = "XA01ABD075A002010100500"  # replaced by two items in 2026
SPLIT_A, SPLIT_B = "XA01ABD075A002010100501", "XA01ABD075A002010100502"
SERVICE_OLD, SERVICE_NEW = "001102000010000", "001102000020000"
SYSTEM = resources.system_url()
JAN_2025, JAN_2026 = dt.date(2025, 1, 1), dt.date(2026, 1, 1)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    hospital_selectors._PUBLISHED.clear()
    yield
    cache.clear()


@pytest.fixture
def world(catalog_admin, reviewer):
    first = publish(
        draft_release(
            label="2025.01",
            effective_from=JAN_2025,
            user=catalog_admin,
            items=[
                {
                    "code": DRUG,
                    "name": "阿莫西林胶囊",
                    "category": "02",
                    "self_pay_ratio": "0.1000",
                    "manufacturer": "华北制药股份有限公司",
                },
                {"code": SERVICE_OLD, "name": "一般诊疗费", "category": "01"},
                {"code": SPLIT, "name": "复方制剂", "category": "01"},
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
    for code in (SPLIT_A, SPLIT_B):
        catalog.item_put(
            release=second, data={"code": code, "name": f"复方制剂 {code[-1]}", "category": "01", "replaces": [SPLIT]}, user=catalog_admin
        )
    for code in (SERVICE_OLD, SPLIT):
        catalog.item_delete(release=second, code=code, user=catalog_admin)
    publish(second, admin=catalog_admin, reviewer=reviewer)
    draft_release(label="2027.01", effective_from=dt.date(2027, 1, 1), user=catalog_admin, based_on=first)
    return hospital_client()[2]


def get(client, path, **params):
    return client.get(f"/fhir/{path}", params)


def parameters(response) -> dict:
    assert response.status_code == 200, response.content
    Parameters.model_validate(response.json())
    return {p["name"]: p for p in response.json()["parameter"]}


def test_metadata_is_a_capability_statement_in_fhir_json(world):
    response = APIClient().get("/fhir/metadata")
    statement = CapabilityStatement.model_validate(response.json())
    assert (response["Content-Type"], statement.fhirVersion, statement.kind) == (
        "application/fhir+json; charset=utf-8",
        "4.0.1",
        "instance",
    )


def test_each_published_release_is_a_code_system_version(world):
    bundle = Bundle.model_validate(get(world, "CodeSystem", url=SYSTEM).json())
    systems = [CodeSystem.model_validate(entry.resource.model_dump()) for entry in bundle.entry]
    assert [(s.url, s.version, s.content, s.count) for s in systems] == [
        (SYSTEM, "2026.01", "not-present", 4),
        (SYSTEM, "2025.01", "not-present", 3),
    ]


def test_a_superseded_release_is_a_retired_code_system_version(world):
    bundle = get(world, "CodeSystem").json()
    assert {e["resource"]["version"]: e["resource"]["status"] for e in bundle["entry"]} == {"2026.01": "active", "2025.01": "retired"}


def test_code_system_search_by_version_and_by_a_foreign_url(world):
    one = get(world, "CodeSystem", version="2025.01").json()
    none = get(world, "CodeSystem", url="http://loinc.org").json()
    assert ([e["resource"]["version"] for e in one["entry"]], none["total"]) == (["2025.01"], 0)


def test_a_code_system_is_read_by_its_id(world):
    resource = CodeSystem.model_validate(get(world, "CodeSystem/national-catalog-2026.01").json())
    assert resource.version == "2026.01"


def test_lookup_answers_display_and_properties(world):
    found = parameters(get(world, "CodeSystem/$lookup", system=SYSTEM, code=DRUG, date="2026-03-01"))
    props = {
        p["part"][0]["valueCode"]: p["part"][1]
        for p in get(world, "CodeSystem/$lookup", system=SYSTEM, code=DRUG).json()["parameter"]
        if p["name"] == "property"
    }
    assert (found["display"]["valueString"], found["version"]["valueString"], props["category"], props["self_pay_ratio"]) == (
        "阿莫西林胶囊",
        "2026.01",
        {"name": "value", "valueCode": "02"},
        {"name": "value", "valueDecimal": 0.1},
    )


def test_lookup_in_a_named_version(world):
    found = parameters(get(world, "CodeSystem/$lookup", system=SYSTEM, code=SERVICE_OLD, version="2025.01"))
    assert found["display"]["valueString"] == "一般诊疗费"


def test_lookup_of_a_retired_code_is_an_operation_outcome_naming_the_successor(world):
    response = get(world, "CodeSystem/$lookup", system=SYSTEM, code=SERVICE_OLD, date="2026-03-01")
    outcome = OperationOutcome.model_validate(response.json())
    issue = outcome.issue[0]
    assert (response.status_code, issue.code, issue.details.coding[0].code, SERVICE_NEW in issue.details.text) == (
        404,
        "not-found",
        "code_unknown",
        True,
    )


def test_validate_code_on_a_date_before_the_retirement_is_true(world):
    found = parameters(get(world, "CodeSystem/$validate-code", url=SYSTEM, code=SERVICE_OLD, date="2025-12-31"))
    assert (found["result"]["valueBoolean"], found["display"]["valueString"]) == (True, "一般诊疗费")


def test_validate_code_after_the_retirement_is_false_and_names_the_successor(world):
    found = parameters(get(world, "CodeSystem/$validate-code", url=SYSTEM, code=SERVICE_OLD, date="2026-01-01"))
    assert (found["result"]["valueBoolean"], SERVICE_NEW in found["message"]["valueString"]) == (False, True)


def test_validate_code_with_a_wrong_display_is_false(world):
    found = parameters(get(world, "CodeSystem/$validate-code", url=SYSTEM, code=DRUG, display="头孢克肟片"))
    assert (found["result"]["valueBoolean"], found["display"]["valueString"]) == (False, "阿莫西林胶囊")


def test_validate_code_takes_a_date_time_in_local_time(world):
    # 2025-12-31T17:00Z is 2026-01-01 01:00 in Shanghai: the 2026 release answers
    found = parameters(get(world, "CodeSystem/$validate-code", url=SYSTEM, code=SERVICE_OLD, date="2025-12-31T17:00:00Z"))
    assert found["result"]["valueBoolean"] is False


def test_translate_maps_a_retired_code_to_its_successor(world):
    found = parameters(get(world, "ConceptMap/$translate", system=SYSTEM, code=SERVICE_OLD, date="2026-03-01"))
    match = {part["name"]: part for part in found["match"]["part"]}
    assert (found["result"]["valueBoolean"], match["equivalence"]["valueCode"], match["concept"]["valueCoding"]["code"]) == (
        True,
        "equivalent",
        SERVICE_NEW,
    )


def test_translate_maps_a_split_code_to_each_narrower_successor(world):
    response = get(world, "ConceptMap/$translate", system=SYSTEM, code=SPLIT, date="2026-03-01")
    Parameters.model_validate(response.json())
    matches = [{p["name"]: p for p in m["part"]} for m in response.json()["parameter"] if m["name"] == "match"]
    assert [(m["equivalence"]["valueCode"], m["concept"]["valueCoding"]["code"]) for m in matches] == [
        ("narrower", SPLIT_A),
        ("narrower", SPLIT_B),
    ]


def test_translate_of_an_active_code_is_the_code_itself(world):
    found = parameters(get(world, "ConceptMap/$translate", system=SYSTEM, code=DRUG))
    assert found["match"]["part"][0]["valueCode"] == "equal"


def test_translate_of_an_unknown_code_is_no_match(world):
    found = parameters(get(world, "ConceptMap/$translate", system=SYSTEM, code="XA01ABD075A002010100000"))
    assert (found["result"]["valueBoolean"], "match" in found) == (False, False)


def test_an_unknown_code_system_is_an_operation_outcome(world):
    response = get(world, "CodeSystem/$lookup", system="http://snomed.info/sct", code=DRUG)
    OperationOutcome.model_validate(response.json())
    assert (response.status_code, response.json()["issue"][0]["details"]["coding"][0]["code"]) == (404, "system_unknown")


def test_version_and_date_together_are_refused(world):
    response = get(world, "CodeSystem/$lookup", system=SYSTEM, code=DRUG, version="2025.01", date="2026-03-01")
    assert (response.status_code, OperationOutcome.model_validate(response.json()).issue[0].code) == (400, "invalid")


def test_without_credentials_the_terminology_answers_401_as_an_operation_outcome(world):
    response = APIClient().get("/fhir/CodeSystem/$lookup", {"system": SYSTEM, "code": DRUG})
    outcome = OperationOutcome.model_validate(response.json())
    assert (response.status_code, outcome.issue[0].code, outcome.issue[0].details.coding[0].code) == (401, "login", "not_authenticated")


def test_a_revoked_key_answers_401_api_key_revoked(world):
    h, _, client = hospital_client("H31010100009")
    hospital_services.api_keys_revoke_for_hospital(hospital=h)
    response = get(client, "CodeSystem", url=SYSTEM)
    assert (response.status_code, response.json()["issue"][0]["details"]["coding"][0]["code"]) == (401, "api_key_revoked")


def test_asking_for_xml_only_is_406(world):
    response = world.get("/fhir/CodeSystem", HTTP_ACCEPT="application/fhir+xml")
    assert (response.status_code, OperationOutcome.model_validate(response.json()).issue[0].code) == (406, "not-supported")


def test_staff_read_the_terminology_too(world, auditor, api):
    assert api(auditor).get("/fhir/CodeSystem/$validate-code", {"url": SYSTEM, "code": DRUG}).status_code == 200
