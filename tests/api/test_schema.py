"""The served schema's promises, checked one rule at a time on ``/api/schema/`` (the live,
generated-client and schemathesis tests drive them end to end)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from apps.catalog.demo import generate_items
from tests.factories import draft_release, published_release
from tests.hospitals.api_helpers import hospital_client

ERROR_REF = "#/components/schemas/Error"
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def schema(api: Any, auditor: Any) -> dict[str, Any]:
    response = api(auditor).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return dict(response.json())


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items() if method in METHODS]


def _ref(response: dict[str, Any]) -> str:
    return str(next(iter(response["content"].values()))["schema"].get("$ref", ""))


def test_every_api_operation_documents_its_error_answers_with_the_one_envelope(schema: dict[str, Any]) -> None:
    for path, method, op in _operations(schema):
        if not path.startswith("/api/"):
            continue
        responses = op["responses"]
        assert {"401", "403", "429"} <= set(responses), (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        if "requestBody" in op or any(p["in"] == "query" for p in op.get("parameters", [])):
            assert "400" in responses, (method, path)
        if "requestBody" in op:
            assert "413" in responses, (method, path)
        if method != "get":
            assert "409" in responses, (method, path)
        for status, response in responses.items():
            if status >= "400":
                assert _ref(response) == ERROR_REF, (method, path, status)


def test_the_error_envelope_is_one_component(schema: dict[str, Any]) -> None:
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "detail", "errors"] and error["properties"]["errors"]["type"] == "array"


def test_fhir_errors_are_documented_as_operation_outcomes_under_their_real_paths(schema: dict[str, Any]) -> None:
    assert {"/fhir/CodeSystem/$lookup", "/fhir/CodeSystem/$validate-code", "/fhir/ConceptMap/$translate"} <= set(schema["paths"])
    assert "/fhir/CodeSystem/lookup" not in schema["paths"]
    responses = schema["paths"]["/fhir/CodeSystem/$lookup"]["get"]["responses"]
    assert next(iter(responses["404"]["content"].values()))["schema"]["properties"]["resourceType"]["enum"] == ["OperationOutcome"]


def test_every_list_is_documented_as_the_envelope_it_answers(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    for path, method, op in _operations(schema):
        if method != "get" or not path.startswith("/api/"):
            continue
        content = op["responses"]["200"].get("content", {}).get("application/json")
        if content is None:
            continue
        body = content["schema"]
        body = components[body["$ref"].rsplit("/", 1)[1]] if "$ref" in body else body
        assert body.get("type") != "array", (method, path)
        if "results" in body.get("properties", {}):
            assert set(body["required"]) >= {"next", "results"}, (method, path)
    listed = schema["paths"]["/api/v1/webhooks/endpoints/"]["get"]["responses"]["200"]
    assert _ref(listed).endswith("/PaginatedEndpointList")


def test_each_operation_asks_for_the_credentials_it_takes(schema: dict[str, Any]) -> None:
    def schemes(path: str, method: str) -> set[str]:
        return {name for requirement in schema["paths"][path][method]["security"] for name in requirement}

    assert schemes("/api/v1/webhooks/endpoints/", "get") == {"ApiKeyAuth"}
    assert schemes("/api/v1/transfers/", "post") == {"StaffToken", "cookieAuth"}
    assert schemes("/api/v1/catalog/releases/", "get") == {"ApiKeyAuth", "StaffToken", "cookieAuth"}
    assert {} in schema["paths"]["/api/v1/auth/token/"]["post"]["security"]
    assert {} not in schema["paths"]["/api/v1/auth/token/"]["delete"]["security"]


def test_an_item_without_hospital_level_is_documented_as_the_blank_it_sends(schema: dict[str, Any]) -> None:
    level = schema["components"]["schemas"]["HospitalItem"]["properties"]["restriction_hospital_level"]
    assert {"$ref": "#/components/schemas/BlankEnum"} in level["oneOf"]
    assert schema["components"]["schemas"]["BlankEnum"]["enum"] == [""]


def test_request_constraints_are_in_the_schema(schema: dict[str, Any]) -> None:
    precheck = schema["components"]["schemas"]["PrecheckRequestRequest"]["properties"]
    assert precheck["lines"]["minItems"] == 1 and precheck["lines"]["maxItems"] == 5000
    assert "0000|" in precheck["home_province"]["pattern"]
    items = schema["paths"]["/api/v1/catalog/releases/{label}/items/"]["get"]["parameters"]
    page_size = next(p for p in items if p["name"] == "page_size")["schema"]
    assert (page_size["minimum"], page_size["maximum"]) == (1, 1000)
    assert schema["components"]["schemas"]["PolicyCreateRequest"]["additionalProperties"] is False


def _not_only_spaces_patterns(schema: dict[str, Any]) -> dict[str, str]:
    """The schema patterns of the texts the services strip and refuse when blank."""
    components, paths = schema["components"]["schemas"], schema["paths"]

    def parameter(path: str, method: str, name: str) -> str:
        return next(p["schema"]["pattern"] for p in paths[path][method]["parameters"] if p["name"] == name)

    fhir_lookup = next(path for path in paths if path.endswith("/CodeSystem/$lookup"))
    return {
        "claim line code": components["ClaimLineRequest"]["properties"]["code"]["pattern"],
        # (a blank code is refused by the serializer; the schema no longer offers "" as valid)
        "item usage code": components["ItemUsageRequest"]["properties"]["codes"]["items"]["pattern"],
        "FHIR code": parameter(fhir_lookup, "get", "code"),
        "Idempotency-Key": parameter("/api/v1/transfers/", "post", "Idempotency-Key"),
    }


# JSON Schema patterns are ECMA-262 regexes, whose \\s is narrower than Python's (no \\x1c-\\x1f, \\x85).
_ECMA_SPACE = "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"


def _ecma(pattern: str) -> str:
    """``pattern`` with \\s and \\S as an ECMA-262 engine (a generator, a validator) reads them."""
    return pattern.replace("\\S", f"[^{_ECMA_SPACE}]").replace("\\s", _ECMA_SPACE)


def test_a_text_of_spaces_alone_is_invalid_in_the_schema_as_in_the_api(schema: dict[str, Any]) -> None:
    import re

    # schemathesis sent a code of spaces (stripped to blank, refused 400) that the schema allowed;
    # "\\S" let \x1c-\x1f and \x85 through, which str.strip() removes.
    for where, schema_pattern in _not_only_spaces_patterns(schema).items():
        pattern = _ecma(schema_pattern)
        for spaces in ("\u3000", " \x1c", "\x85\t", "\x1f"):
            assert re.search(pattern, spaces) is None and spaces.strip() == "", (where, spaces)
        assert re.search(pattern, " XA01 "), where


def test_an_item_written_by_staff_is_documented_as_the_service_accepts_it(schema: dict[str, Any]) -> None:
    """schemathesis wrote an item with category "ô" and a code of one astral character, which the
    schema allowed and the service refused: the schema now names the choices, lengths and layouts."""
    import re

    from apps.catalog.models import PaymentCategory
    from apps.core.codes import CodeError, catalog_code_kind

    item = schema["components"]["schemas"]["ItemWriteRequest"]["properties"]
    assert [v for v in ("01", "02", "03", "04", "1") if re.search(_ecma(item["category"]["pattern"]), v)] == PaymentCategory.values
    kind = item["kind"]["oneOf"][0]["pattern"]  # (allow_blank adds the other alternative, "")
    assert re.search(_ecma(kind), "drug") and not re.search(_ecma(kind), "pill")
    assert (item["restriction_max_days"]["minimum"], item["restriction_max_days"]["maximum"]) == (1, 2**31 - 1)
    assert item["dosage_form"]["maxLength"] == 64
    for code in ("XA01ABD075A002010100483", "xa01abd075a002010100483", "T000100001", "001201000010000-12", "C01010100100000"):
        assert re.search(_ecma(item["code"]["pattern"]), code) and catalog_code_kind(code.upper())
    for code in ("\U000c7972", "XA01", "C00010100100000", "T00010000"):
        assert re.search(_ecma(item["code"]["pattern"]), code) is None
        with pytest.raises(CodeError):
            catalog_code_kind(code)


def test_the_exports_are_binary_for_generators(schema: dict[str, Any]) -> None:
    content = schema["paths"]["/api/v1/catalog/releases/{label}/export.csv.gz"]["get"]["responses"]["200"]["content"]
    assert content["application/octet-stream"]["schema"] == {"type": "string", "format": "binary"}
    assert "application/gzip" in content


@pytest.fixture
def hospital(db: Any, catalog_admin: Any, reviewer: Any) -> Any:
    published_release(
        label="2026.01", effective_from=dt.date(2026, 1, 1), admin=catalog_admin, reviewer=reviewer, items=generate_items(5, seed=4)
    )
    _, _, client = hospital_client()
    return client


@pytest.mark.parametrize("size", ["0", "1001", "-1", "ten", "1.5"])
def test_a_page_size_outside_1_to_1000_is_refused_naming_the_parameter(hospital: Any, size: str) -> None:
    response = hospital.get("/api/v1/catalog/releases/2026.01/items/", {"page_size": size})
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "page_size")


def test_a_cursor_not_given_out_is_refused_naming_the_parameter(hospital: Any) -> None:
    response = hospital.get("/api/v1/catalog/releases/2026.01/items/", {"cursor": "not-a-cursor"})
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "cursor")


def test_an_unknown_query_parameter_is_ignored(hospital: Any) -> None:
    plain = hospital.get("/api/v1/catalog/releases/2026.01/items/").json()
    assert hospital.get("/api/v1/catalog/releases/2026.01/items/", {"colour": "blue"}).json() == plain


def test_a_path_no_route_matches_answers_the_envelope_not_an_html_page(hospital: Any) -> None:
    response = hospital.get("/api/v1/webhooks/endpoints/-5/")
    assert (response.status_code, response["Content-Type"], response.json()["code"]) == (404, "application/json", "not_found")


def test_the_staff_release_list_is_the_envelope(api: Any, catalog_admin: Any) -> None:
    for label in ("a", "b"):
        draft_release(label=label, effective_from=dt.date(2026, 1, 1), user=catalog_admin)
    body = api(catalog_admin).get("/api/v1/releases/", {"page_size": 1}).json()
    assert [r["label"] for r in body["results"]] == ["b"] and body["next"].startswith("http://")


def test_submitting_an_empty_draft_is_a_conflict(api: Any, catalog_admin: Any) -> None:
    draft_release(label="empty", effective_from=dt.date(2026, 1, 1), user=catalog_admin)
    response = api(catalog_admin).post("/api/v1/releases/empty/submit/")
    assert (response.status_code, response.json()["code"]) == (409, "release_empty")


def test_a_blank_item_usage_code_is_invalid_in_the_schema_as_in_the_api(schema: dict[str, Any]) -> None:
    """schemathesis sent codes [""], which the schema allowed (allow_blank made it an alternative)
    and the API refused with 400: the schema now says a code has at least one character."""
    assert schema["components"]["schemas"]["ItemUsageRequest"]["properties"]["codes"]["items"]["minLength"] == 1
