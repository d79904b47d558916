"""schemathesis with every check (`--checks all`) over every operation the served schema lists,
against a live server, each operation called with real credentials of a caller it is meant for:
hospital-facing ones with a hospital's API key, staff ones with the token of the role that works
there. The operations are read from ``/api/schema/`` at run time, so endpoints added later are
covered without touching this file (the roles table only sharpens who calls them; anything it
does not name is called by a superuser's token).

Bounded for 2 shared cores: a few examples per operation and phase, no shrinking, a fixed seed,
and a time budget (``max-time``) that stops fuzzing and stateful walks when spent. The stateful
phase follows the links schemathesis infers from the schema (create → read → act, e.g. a webhook
endpoint registered, then read, patched, tested, rotated and deleted)."""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from tests.security import world as w

from .conftest import LiveWorld

ROOT = Path(__file__).resolve().parents[2]
SEED = 20261207
MAX_EXAMPLES = 8  # per operation and phase
MAX_SECONDS = 100  # the whole run's budget; the phases before fuzzing always complete

# live_server needs committed rows; the flush after the test must not take the provinces and
# cities the migrations load away from later tests.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# Which staff caller works on which paths (first match wins); anything else: a superuser.
STAFF_ROLES = (
    (r"^/api/v1/releases/", w.CATALOG_ADMIN),
    (r"^/api/v1/(reconciliation|settlements)/", w.NATIONAL_MAKER),
    (r"^/api/v1/(accounts|transfers|pooling)/", w.MAKER_A),
    (r"^/api/v1/benefits/", w.PROVINCE_A),
    (r"^/api/v1/audit/", w.AUDITOR),
)
# The token endpoint's DELETE revokes the token it is called with: it gets one of its own.
OWN_TOKEN = {("DELETE", "/api/v1/auth/token/")}


def _authorization(live: LiveWorld, method: str, path: str, security: list[dict[str, Any]]) -> str | None:
    schemes = {name for requirement in security for name in requirement}
    if "ApiKeyAuth" in schemes:
        return f"Api-Key {live.hospital_key}"
    if "StaffToken" not in schemes:
        return None  # anonymous operations (FHIR metadata)
    if (method, path) in OWN_TOKEN:
        return f"Token {live.tokens[w.AUDITOR]}"
    role = next((role for pattern, role in STAFF_ROLES if re.match(pattern, path)), "root")
    return f"Token {live.tokens[role]}"


def _config(live: LiveWorld, document: dict[str, Any]) -> SchemathesisConfig:
    operations = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            security = operation.get("security", document.get("security", []))
            header = _authorization(live, method.upper(), path, security)
            if header is None or {} in security:
                continue
            operations.append({"include-operation-id": operation["operationId"], "headers": {"Authorization": header}})
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "max-time": MAX_SECONDS,
            "continue-on-failure": True,
            "suppress-health-check": ["all"],
            "request-timeout": 30,
            "checks": {"enabled": True},
            "generation": {"max-examples": MAX_EXAMPLES, "no-shrink": True, "database": "none", "mode": "all"},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True, "max-steps": 6},
            },
            "operations": operations,
            "warnings": False,
        }
    )


def _failures(stream: Any) -> tuple[list[str], Counter[str]]:
    found: dict[tuple[str, str, str], str] = {}
    statuses: Counter[str] = Counter()
    for event in stream:
        if isinstance(event, events.FatalError):
            raise event.exception
        if isinstance(event, events.NonFatalError):
            found[(event.label, "error", str(event.value)[:200])] = f"{event.label}: error {event.info.message}"
        recorder = getattr(event, "recorder", None)
        if recorder is None or not isinstance(event, (events.ScenarioFinished, events.FuzzScenarioFinished)):
            continue
        for interaction in recorder.interactions.values():
            if interaction.response is not None:
                statuses[str(interaction.response.status_code)] += 1
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.status != Status.FAILURE or check.failure_info is None:
                    continue
                failure = check.failure_info.failure
                case = recorder.cases[case_id].value
                key = (f"{case.method} {case.operation.path}", check.name, failure.title)
                interaction = recorder.interactions.get(case_id)
                answer = interaction.response if interaction is not None else None
                said = f"{answer.status_code} {answer.content[:400].decode('utf-8', 'replace')}" if answer is not None else "-"
                found.setdefault(
                    key,
                    f"{key[0]} [{check.name}] {failure.title}: {str(failure)[:600]}\n  answered: {said}\n  {check.failure_info.code_sample[:1500]}",
                )
    return list(found.values()), statuses


# Refusals of a schema-valid request that no schema can prevent, each for a reason of state, not of
# shape: a 400 whose every error carries one of these codes is not a positive_data_acceptance failure.
STATE_REFUSALS = {
    "does_not_exist": "a body field names an object (a release to copy, an account) that is not on this server",
    "release_unknown": "a parameter names a release label that is not published here",
    "unknown_region": "a pooling region code of the right shape that is not one of the province's cities",
    "webhook_url_not_public": "whether a host resolves to a public address depends on DNS, not on the request's shape",
    "unique": "the value (a release label) is taken by an object made earlier in the run",
    "no_release_in_force": "no published release is in force on the date asked",
    "no_benefit_policy": "the home province has no approved policy for that scheme and setting on that date",
    "not_allowed": "a field allowed only with another's value (amount_fen with agreed_amount): no OpenAPI 3.0 keyword short of oneOf",
    "null_characters_not_allowed": "PostgreSQL text cannot hold NUL: a NUL in any string is refused (API.md), no JSON Schema keyword says so",
    "range_too_long": "a limit across two parameters (a statement's to - from <= 366 days) has no OpenAPI keyword",
    "range_reversed": "an end after its start across two fields (effective_to > effective_from, to >= from) has no OpenAPI keyword",
    "province_not_in_run": "a GB/T 2260 province code of the right shape that has no claims in the run asked for",
    "code_mismatch": "a body's item code must be the one the URL names: no OpenAPI keyword relates a body field to a path parameter",
    "unknown_successor": "an item cannot replace its own code: no keyword relates a list's entries to another field",
}


def _job_failed(response: Any) -> bool:
    """An upload answered 202 is validated by its job (row errors): a bad upload is refused there."""
    try:
        url = response.json()["job"]["url"]
    except (ValueError, KeyError, TypeError):
        return False
    headers = {"Authorization": response.request.headers.get("Authorization", "")}
    return bool(httpx.get(url, headers=headers, timeout=30).json().get("state") == "failed")


def _state_refusal(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """filter_failure: keep (True) every failure but a 400 refusing only for STATE_REFUSALS, and a
    schema-violating upload accepted as a job that then failed on it."""
    if type(failure).__name__ == "AcceptedNegativeData" and response.status_code == 202:
        return not _job_failed(response)
    if type(failure).__name__ != "RejectedPositiveData" or response.status_code != 400:
        return True
    try:
        body = response.json()
        if body.get("resourceType") == "OperationOutcome":  # FHIR's error shape (a NUL in the query)
            codes = {"null_characters_not_allowed"} if "NUL" in json.dumps(body) else {"fhir"}
        elif body.get("detail") == "NUL characters are not accepted":  # core.middleware, for query strings
            codes = {"null_characters_not_allowed"}
        else:
            codes = {error.get("code") for error in body.get("errors", [])} or {body.get("code")}
    except (ValueError, AttributeError):
        return True
    return not codes or not codes <= set(STATE_REFUSALS)


def _leave_out_cursors(context: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
    """A cursor is opaque: only one the server gave out (in a ``next`` link) is valid, and no
    schema can say which strings those are. Any other is 400 ``validation_error`` (tested in
    tests/api/test_schema.py); generated requests leave it out, the generated client's test
    follows real ``next`` links to the last page."""
    if query:
        query.pop("cursor", None)
    return query


@pytest.mark.integration
def test_schemathesis_finds_no_failure_on_any_operation(live_world: LiveWorld) -> None:
    url = f"{live_world.url}/api/schema/?format=json"
    document = httpx.get(url, timeout=30).raise_for_status().json()
    only = os.environ.get("SCHEMATHESIS_PATHS")  # a regex, to iterate on a few operations by hand
    if only:
        document["paths"] = {p: item for p, item in document["paths"].items() if re.search(only, p)}
    schema = schemathesis.openapi.from_dict(document, config=_config(live_world, document))
    schema.config.update(base_url=live_world.url)
    schema.hook("map_query")(_leave_out_cursors)
    schema.hook("filter_failure")(_state_refusal)
    started = time.monotonic()
    failures, statuses = _failures(from_schema(schema).execute())
    report = ROOT / "var" / "schemathesis-failures.txt"
    report.parent.mkdir(exist_ok=True)
    report.write_text("\n\n".join(failures))
    print(f"schemathesis: {time.monotonic() - started:.0f} s, statuses {dict(statuses)}, {len(failures)} failures ({report})")
    assert not failures, f"{len(failures)} distinct failures (statuses seen {dict(statuses)}):\n\n" + "\n\n".join(failures)
    # It really called the operations with credentials that work (not 401s all the way).
    assert statuses["200"] > 50 and statuses["401"] < sum(statuses.values()) / 2, dict(statuses)
