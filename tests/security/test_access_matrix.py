"""The access matrix on real credentials: every endpoint of the URL conf × fifteen callers who
authenticate as production would (staff tokens from ``token_issue``, hospital keys from
``api_key_issue``, sessions logged in through the login page and sending its CSRF token; no
``force_authenticate``, no ``force_login``), each answer checked for its status and code
(API.md: 401 ``not_authenticated`` / ``api_key_revoked``, 403 ``permission_denied`` /
``wrong_province``) and, by content, for leaks: no answer to a caller of province A contains any of
province B's planted codes, names, ids, memos or amounts, nor the reverse.

API views run twice for staff: with a token and with the browser session. Pages run with the
session. The admin is swept from its registry (every model list, every page without arguments,
every app index, and the change and history pages of the other province's planted objects) for
each province-bound staff caller: never a server error, never the other province's data.

The world is built once (module fixture) inside a transaction that is rolled back at the end;
each request runs in a savepoint that is rolled back too, so every cell sees the same world.
A new endpoint without a row fails ``test_every_api_endpoint_has_a_row`` /
``test_every_page_has_a_row``."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from django.contrib import admin
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.security.endpoints import API, PAGES, Call, api_endpoints, page_names
from tests.security.world import CALLERS, HOSPITAL_B, OTHER, PROVINCE_A, PROVINCE_OF, STAFF, World, build_world

# Cells: an HTTP status; 401/403 with another code than the usual one carry it as a suffix:
# 401r = 401 api_key_revoked (401 = not_authenticated), 403w = 403 wrong_province (403 = permission_denied).
#
# Callers, in CALLERS order:
#   anonymous, hospital A key, hospital B key, A's revoked key,
#   province staff A, province staff B, finance maker A, finance checker A, finance maker B,
#   finance checker B, national finance maker, national finance checker, auditor,
#   catalog admin, catalog reviewer.
# Requests target A's objects. 400 on pre-check/simulation: allowed, refused on content (no
# approved policy in force). 409: past the permission check, refused by the workflow (state,
# two-person rule).
GUESTS = "401 403 403 401r"
STAFF_READ = GUESTS + " 200" * 11
HOSPITALS_ONLY = "401 200 200 401r" + " 403" * 11
HOSPITALS_AND_STAFF = "401 200 200 401r" + " 200" * 11
FHIR_READ = "401 200 200 401" + " 200" * 11
MONEY_LIST = GUESTS + " 200 200 200 200 200 200 200 200 200 403 403"
MONEY_OF_A = GUESTS + " 200 404 200 200 404 404 200 200 200 403 403"


def catalog_admin_only(status: str) -> str:
    return GUESTS + " 403" * 9 + f" {status} 403"


API_EXPECTED: dict[tuple[str, str], str] = {
    ("account-detail", "get"): MONEY_OF_A,
    ("account-entries", "get"): MONEY_OF_A,
    ("account-list", "get"): MONEY_LIST,
    ("account-statement", "get"): MONEY_OF_A,
    ("benefit-policy-approve", "post"): GUESTS + " 409 403w" + " 403" * 9,
    ("benefit-policy-list", "get"): STAFF_READ,
    ("benefit-policy-list", "post"): GUESTS + " 201 403w" + " 403" * 9,
    ("benefit-policy-submit", "post"): GUESTS + " 200 403w" + " 403" * 9,
    ("benefits-simulate", "post"): GUESTS + " 400" * 11,
    ("catalog-local-items", "get"): "401 200 403w 401r 200 403w 200 200 403w 403w 200 200 200 200 200",
    ("catalog-validate", "post"): "401 200 403w 401r 200 403w 200 200 403w 403w 200 200 200 200 200",
    # FHIR answers errors as OperationOutcome resources: a revoked key's 401 carries no envelope code.
    ("fhir-codesystem-lookup", "get"): FHIR_READ,
    ("fhir-codesystem-read", "get"): FHIR_READ,
    ("fhir-codesystem-search", "get"): FHIR_READ,
    ("fhir-codesystem-validate-code", "get"): FHIR_READ,
    ("fhir-conceptmap-translate", "get"): FHIR_READ,
    ("fhir-metadata", "get"): "200 200 200 401" + " 200" * 11,
    ("hospital-mappings", "get"): HOSPITALS_ONLY,
    ("hospital-mappings", "put"): "401 202 202 401r" + " 403" * 11,
    ("claims-precheck", "post"): "401 400 403 401r" + " 400" * 11,
    ("hospital-catalog-diff", "get"): HOSPITALS_AND_STAFF,
    ("hospital-catalog-export-csv", "get"): HOSPITALS_AND_STAFF,
    ("hospital-catalog-export-jsonl", "get"): HOSPITALS_AND_STAFF,
    ("hospital-catalog-item", "get"): HOSPITALS_AND_STAFF,
    ("hospital-catalog-items", "get"): HOSPITALS_AND_STAFF,
    ("hospital-catalog-release", "get"): HOSPITALS_AND_STAFF,
    ("hospital-catalog-releases", "get"): HOSPITALS_AND_STAFF,
    ("hospital-key", "get"): "401 200 404 401r" + " 403" * 11,
    ("hospital-key-revoke", "post"): "401 200 404 401r" + " 403" * 11,
    ("hospital-keys", "get"): HOSPITALS_ONLY,
    ("hospital-me", "get"): HOSPITALS_ONLY,
    ("job-detail", "get"): "401 404 404 401r 200 404 200 200 404 404 200 200 200 403 403",
    ("notice-delivery-list", "get"): HOSPITALS_AND_STAFF,
    ("notice-delivery-replay", "post"): "401 202 202 401r" + " 403" * 9 + " 202 403",
    ("notice-item-usage", "put"): HOSPITALS_ONLY,
    ("notice-list", "get"): HOSPITALS_ONLY,
    ("pooling-figures-list", "get"): MONEY_LIST,
    ("pooling-figures-import", "post"): GUESTS + " 403 403 202 403 202 403 202 403 403 403 403",
    ("pooling-adjustment-run-list", "get"): MONEY_LIST,
    ("pooling-adjustment-run-list", "post"): GUESTS + " 403 403 202 202 403w 403w 202 202 403 403 403",
    ("pooling-adjustment-run-detail", "get"): MONEY_LIST,
    ("pooling-advance-list", "get"): MONEY_LIST,
    ("pooling-budget-list", "get"): MONEY_LIST,
    ("pooling-budget-list", "post"): GUESTS + " 403 403 200 403 403w 403 200 403 403 403 403",
    ("pooling-budget-detail", "get"): MONEY_OF_A,
    ("pooling-unification-list", "post"): GUESTS + " 403 403 201 403 403w 403 201 403 403 403 403",
    ("pooling-unification-detail", "get"): MONEY_OF_A,
    ("pooling-unification-complete", "post"): GUESTS + " 403 403 409 200 403 403w 403 200 403 403 403",
    ("reconciliation-run-detail", "get"): MONEY_LIST,
    ("reconciliation-run-discrepancies", "get"): MONEY_LIST,
    # A's clearing statement: B's callers naming A are 403 wrong_province.
    ("reconciliation-run-statement", "get"): GUESTS + " 200 403w 200 200 403w 403w 200 200 200 403 403",
    ("reconciliation-run-list", "post"): GUESTS + " 403 403 403 403 403 403 202 202 403 403 403",
    ("reconciliation-run-discrepancy-list", "get"): MONEY_LIST,
    ("reconciliation-compliance", "get"): GUESTS + " 200 403w 200 200 403w 403w 200 200 200 403 403",
    ("reconciliation-compliance-csv", "get"): GUESTS + " 200 403w 200 200 403w 403w 200 200 200 403 403",
    ("settlement-batch-list", "get"): MONEY_LIST,
    # A's own batch: its finance users and national ones withdraw it; B's get 404 (the wall), others 403.
    ("settlement-batch-withdraw", "post"): GUESTS + " 403 403 200 200 404 404 200 200 403 403 403",
    # Discrepancies of A's pair: finance users of A act; B's get 404; national finance users are no party (403w).
    ("discrepancy-dispute", "post"): GUESTS + " 403 404 200 200 404 404 403w 403w 403 403 403",
    ("discrepancy-resolve", "post"): GUESTS + " 403 404 200 403 404 404 403w 403 403 403 403",
    # Proposed by A's maker: she is 409, A's checker 403w (the other province approves), B's 404.
    ("discrepancy-approve", "post"): GUESTS + " 403 404 409 403w 404 404 403 403w 403 403 403",
    ("release-ack", "post"): "401 201 201 401r" + " 403" * 11,
    ("release-approve", "post"): GUESTS + " 403" * 9 + " 409 409",
    ("release-detail", "get"): STAFF_READ,
    ("release-diff", "get"): STAFF_READ,
    ("release-imports", "post"): catalog_admin_only("202"),
    ("release-item", "delete"): catalog_admin_only("204"),
    ("release-item", "get"): STAFF_READ,
    ("release-item", "put"): catalog_admin_only("200"),
    ("release-items", "get"): STAFF_READ,
    ("release-list", "get"): STAFF_READ,
    ("release-list", "post"): catalog_admin_only("201"),
    ("release-publish", "post"): catalog_admin_only("409"),
    ("release-reject", "post"): GUESTS + " 403" * 9 + " 409 409",
    ("release-submit", "post"): catalog_admin_only("200"),
    # The schema and its docs page answer in YAML / HTML: the 401 carries no JSON code to read.
    ("schema", "get"): "200 200 200 401" + " 200" * 11,
    ("settlement-import", "post"): GUESTS + " 403 403 202 403 202 403 202 403 403 403 403",
    ("swagger-ui", "get"): "200 200 200 401" + " 200" * 11,
    ("redoc", "get"): "200 200 200 401" + " 200" * 11,
    ("transfer-approve", "post"): GUESTS + " 403 403 409 200 403 403w 403 403w 403 403 403",
    ("transfer-detail", "get"): MONEY_OF_A,
    ("transfer-list", "get"): MONEY_LIST,
    ("transfer-list", "post"): GUESTS + " 403 403 201 403 403w 403 201 403 403 403 403",
    ("transfer-reject", "post"): GUESTS + " 403 403 409 200 403 403w 403 403w 403 403 403",
    ("transfer-reverse", "post"): GUESTS + " 403 403 409 403 403w 403 409 403 403 403 403",
    ("transfer-void", "post"): GUESTS + " 403 403 200 200 403 403w 403 403w 403 403 403",
    ("webhook-endpoint-list", "get"): HOSPITALS_ONLY,
    ("webhook-endpoint-list", "post"): "401 201 201 401r" + " 403" * 11,
    ("webhook-endpoint-rotate", "post"): "401 200 404 401r" + " 403" * 11,
    ("webhook-endpoint-detail", "get"): "401 200 404 401r" + " 403" * 11,
    ("webhook-endpoint-detail", "patch"): "401 200 404 401r" + " 403" * 11,
    ("webhook-endpoint-detail", "delete"): "401 204 404 401r" + " 403" * 11,
    ("webhook-endpoint-test", "post"): "401 200 404 401r" + " 403" * 11,
    ("audit-event-list", "get"): GUESTS + " 403" * 8 + " 200 403 403",
    ("staff-token", "post"): "401" + " 401" * 14,
    ("staff-token", "delete"): "401 401 401 401" + " 204" * 11,
}

# Where a login session answers otherwise than a token: revoking "the calling token" needs a token.
SESSION_EXPECTED: dict[tuple[str, str], str] = {
    ("staff-token", "delete"): "401 401 401 401" + " 403" * 11,
}

# Pages: a browser without a staff session (anonymous, a hospital's key) is sent to the login page.
NO_SESSION = "302 302 302 302"
PAGE_EXPECTED: dict[tuple[str, str], str] = {
    ("catalog:release-action", "post"): "302" * 1 + " 302" * 14,  # the outcome is a message on the review page
    ("catalog:release-review", "get"): NO_SESSION + " 200" * 11,
    ("catalog:release-diff-csv", "get"): NO_SESSION + " 200" * 11,  # the review page's diff, as a file
    ("healthz", "get"): "200" + " 200" * 14,
    ("hospitals:mapping-issues", "get"): NO_SESSION + " 200" * 11,
    ("hospitals:hospital-mapping-issues", "get"): NO_SESSION + " 200 404 200 200 404 404 200 200 200 200 200",
    ("notices:adoption", "get"): NO_SESSION + " 200" * 11,
    ("reconciliation:pair-report", "get"): NO_SESSION + " 200 404 200 200 404 404 200 200 200 403 403",
    ("reconciliation:run-report", "get"): NO_SESSION + " 200 200 200 200 200 200 200 200 200 403 403",
    ("reconciliation:compliance", "get"): NO_SESSION + " 200 200 200 200 200 200 200 200 200 403 403",
    ("set_language", "post"): "302" + " 302" * 14,
    ("staff:home", "get"): NO_SESSION + " 200" * 11,
    # The site root redirects everyone to the admin index (which then asks for a login).
    ("root", "get"): "302" + " 302" * 14,
    ("staff:job", "get"): NO_SESSION + " 200 404 200 200 404 404 200 200 200 403 403",
    # The job page's parts: its outcome and its errors as CSV, walled as the page is.
    ("staff:job-outcome", "get"): NO_SESSION + " 200 404 200 200 404 404 200 200 200 403 403",
    ("staff:job-errors-csv", "get"): NO_SESSION + " 200 404 200 200 404 404 200 200 200 403 403",
    # An account's statement: the money allow-list; another province's account is not found.
    ("pooling:statements", "get"): NO_SESSION + " 200 200 200 200 200 200 200 200 200 403 403",
    ("pooling:account-statement", "get"): NO_SESSION + " 200 404 200 200 404 404 200 200 200 403 403",
}

CODES = {"api_key_revoked": "401r", "wrong_province": "403w"}


@dataclass(frozen=True)
class Answer:
    cell: str  # status, with the code suffix of CODES
    code: str  # the error envelope's code ('' when there is none)
    found: dict[str, list[str]]  # province -> its markers found in the body


def _body(response: Any) -> str:
    raw = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    if raw[:2] == b"\x1f\x8b":  # export files: look inside
        raw = gzip.decompress(raw)
    return raw.decode("utf-8", "replace")


def _answer(response: Any, world: World, sent: str = "") -> Answer:
    """Status cell, error code and the planted markers in the body (less those the caller sent)."""
    body = _body(response)
    code = ""
    if "json" in response.get("Content-Type", ""):
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("code"), str):
            code = parsed["code"]
    cell = CODES.get(code, str(response.status_code)) if response.status_code in (401, 403) else str(response.status_code)
    found = {province: [m for m in markers if m in body and m not in sent] for province, markers in world.markers.items()}
    return Answer(cell=cell, code=code, found=found)


def _isolated(client: Any, request: Any) -> Any:
    """One request in a savepoint that is rolled back (every cell sees the same world); the
    client's cookies are put back after (a cell must neither log the next one out nor leave it
    messages)."""
    cookies = client.cookies.__class__(client.cookies)
    with transaction.atomic():
        response = request()
        _body(response)  # a streamed body is read while its rows still exist
        transaction.set_rollback(True)
    client.cookies = cookies
    return response


def _call(call: Call, client: Any, name: str, method: str, world: World, csrf: str = "") -> Answer:
    response = _isolated(client, lambda: call.send(client, name, method, world, csrf=csrf))
    return _answer(response, world, sent=call.request_text(name, world))


# --- the admin sweep --------------------------------------------------------------------------


def _admin_pages_without_arguments() -> Iterator[str]:
    def walk(patterns: Any, prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern), entry

    for route, pattern in walk(get_resolver().url_patterns, ""):
        if route.startswith("admin/") and not any(c in route for c in "<(^$") and pattern.name not in ("logout", "login"):
            yield "/" + route
    for app_label in sorted({model._meta.app_label for model in admin.site._registry}):
        yield reverse("admin:app_list", args=[app_label])


DETAIL_ACTIONS = ("approve", "reject", "void", "reverse", "submit", "publish", "send_back")


def _admin_pages_of(objects: list[Any]) -> Iterator[str]:
    """Change and history pages, and for a record with a detail page (apps.core.detail) the
    confirmation step of every action."""
    from apps.core.detail import DetailActionsMixin

    for obj in objects:
        opts = obj._meta
        for view in ("change", "history"):
            yield reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk])
        if isinstance(admin.site._registry.get(type(obj)), DetailActionsMixin):
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            yield from (f"{change}?action={name}" for name in DETAIL_ACTIONS)


def _planted(world: World, province: str) -> list[Any]:
    from apps.core.models import Job
    from apps.hospitals.models import Hospital
    from apps.notices.models import WebhookEndpoint
    from apps.reconciliation.models import Discrepancy, ReconciliationRun, SettlementBatch

    side = world.objects[province]
    job = Job.objects.get(pk=side["job"])
    hospital = Hospital.objects.get(code=world.markers[province][0])
    return [
        side["account"],
        side["proposed"],
        side["posted"],
        side["draft_policy"],
        side["submitted_policy"],
        job,
        SettlementBatch.objects.get(pk=job.result["batch"]),
        hospital,
        WebhookEndpoint.objects.filter(hospital=hospital).first(),
        ReconciliationRun.objects.get(pk=world.run),
        *Discrepancy.objects.filter(run_id=world.run, home_province=province),
    ]


# --- one pass over everything ------------------------------------------------------------------


@dataclass
class Results:
    api_token: dict[tuple[str, str, str], Answer]
    api_session: dict[tuple[str, str, str], Answer]
    pages: dict[tuple[str, str, str], Answer]
    admin: dict[tuple[str, str], Answer]
    markers: dict[str, list[str]]
    facts: dict[str, Any]


@pytest.fixture(scope="module")
def results(django_db_setup: Any, django_db_blocker: Any) -> Results:
    with django_db_blocker.unblock(), transaction.atomic():
        world = build_world()
        api_token, api_session, pages, admin_pages = {}, {}, {}, {}
        for (name, method), call in sorted(API.items()):
            for caller in CALLERS:
                client = world.callers[caller]
                api_token[(name, method, caller)] = _call(call, client.api, name, method, world)
                if client.session_api is not None:
                    api_session[(name, method, caller)] = _call(
                        call, client.session_api, name, method, world, client.csrf(client.session_api)
                    )
        for (name, method), call in sorted(PAGES.items()):
            for caller in CALLERS:
                client = world.callers[caller]
                pages[(name, method, caller)] = _call(call, client.browser, name, method, world, client.csrf(client.browser))
        plain = list(_admin_pages_without_arguments())
        for caller, province in PROVINCE_OF.items():
            if caller not in STAFF:
                continue
            browser = world.callers[caller].browser
            for url in [*plain, *_admin_pages_of(_planted(world, OTHER[province]))]:
                admin_pages[(caller, url)] = _answer(_isolated(browser, partial(browser.get, url)), world, sent=url)
        facts = _facts(world)
        markers = world.markers
        transaction.set_rollback(True)
    return Results(api_token=api_token, api_session=api_session, pages=pages, admin=admin_pages, markers=markers, facts=facts)


def _facts(world: World) -> dict[str, Any]:
    """What some answers say beyond their status (regressions of earlier defects)."""
    hospital_b = world.callers[HOSPITAL_B].api
    replay = _isolated(
        hospital_b, lambda: hospital_b.post("/api/v1/notices/deliveries/replay/", {"ids": [world.delivery_a]}, format="json")
    )
    staff_a = world.callers[PROVINCE_A].api
    deliveries = staff_a.get("/api/v1/notices/deliveries/").json()["results"]
    return {
        "replayed_by_b": json.loads(replay.content)["replayed"],
        "a_sees_own_delivery": world.delivery_a in {d["id"] for d in deliveries},
    }


def _wrong(answers: dict[tuple[str, str, str], Answer], expected: dict[tuple[str, str], str]) -> list[str]:
    wrong = []
    for (name, method, caller), answer in sorted(answers.items()):
        want = expected[(name, method)].split()[CALLERS.index(caller)]
        if answer.cell != want:
            wrong.append(f"{caller}: {method.upper()} {name} -> {answer.cell} {answer.code}, expected {want}")
    return wrong


def _leaks(answers: dict[Any, Answer], caller_of: Any) -> list[str]:
    leaks = []
    for key, answer in sorted(answers.items(), key=lambda kv: str(kv[0])):
        province = PROVINCE_OF.get(caller_of(key))
        if province and answer.found[OTHER[province]]:
            leaks.append(f"{key}: {answer.found[OTHER[province]]}")
    return leaks


# --- the tests -----------------------------------------------------------------------------------


def test_every_api_endpoint_has_a_row():
    endpoints = set(api_endpoints())
    assert (sorted(endpoints - set(API_EXPECTED)), sorted(set(API_EXPECTED) - endpoints), sorted(endpoints - set(API))) == ([], [], [])


def test_every_page_has_a_row():
    rows = {name for name, _ in PAGE_EXPECTED}
    assert (sorted(page_names() - rows), sorted(rows - page_names()), sorted(set(PAGE_EXPECTED) - set(PAGES))) == ([], [], [])


def test_every_row_has_a_cell_per_caller():
    assert [key for key, row in {**API_EXPECTED, **PAGE_EXPECTED}.items() if len(row.split()) != len(CALLERS)] == []


@pytest.mark.django_db  # sets the test database up; the world lives in the module fixture
def test_every_api_endpoint_answers_every_caller_with_a_token_or_key_as_expected(results):
    assert _wrong(results.api_token, API_EXPECTED) == []


@pytest.mark.django_db  # sets the test database up; the world lives in the module fixture
def test_every_api_endpoint_answers_every_staff_session_with_its_csrf_token_as_expected(results):
    assert _wrong(results.api_session, {**API_EXPECTED, **SESSION_EXPECTED}) == []


@pytest.mark.django_db  # sets the test database up; the world lives in the module fixture
def test_every_page_answers_every_caller_as_expected(results):
    assert _wrong(results.pages, PAGE_EXPECTED) == []


@pytest.mark.django_db  # sets the test database up; the world lives in the module fixture
def test_no_api_answer_to_a_caller_of_one_province_holds_the_other_provinces_data(results):
    assert _leaks({**results.api_token, **{(*k, "session"): v for k, v in results.api_session.items()}}, lambda key: key[2]) == []


@pytest.mark.django_db  # sets the test database up; the world lives in the module fixture
def test_no_page_shown_to_a_caller_of_one_province_holds_the_other_provinces_data(results):
    assert _leaks(results.pages, lambda key: key[2]) == []


@pytest.mark.django_db  # sets the test database up; the world lives in the module fixture
def test_no_admin_page_shown_to_province_bound_staff_holds_the_other_provinces_data(results):
    assert _leaks(results.admin, lambda key: key[0]) == []


@pytest.mark.django_db  # sets the test database up; the world lives in the module fixture
def test_no_admin_page_fails_with_a_server_error_for_province_bound_staff(results):
    assert [f"{caller} {url} -> {a.cell}" for (caller, url), a in sorted(results.admin.items()) if a.cell.startswith("5")] == []


@pytest.mark.django_db  # sets the test database up; the world lives in the module fixture
def test_the_other_provinces_objects_do_not_open_in_admin(results):
    """Change and history pages of the other province's planted objects: never 200 (the national run excepted)."""
    opened = [
        f"{caller} {url}"
        for (caller, url), a in sorted(results.admin.items())
        if a.cell == "200" and ("/change/" in url or "/history/" in url) and "/reconciliationrun/" not in url
    ]
    assert opened == []


@pytest.mark.django_db  # sets the test database up; the world lives in the module fixture
def test_every_planted_marker_is_seen_by_its_own_province(results):
    """The leak checks can fail: each province's own callers do find its markers somewhere."""
    seen: dict[str, set[str]] = {province: set() for province in results.markers}
    for key, answer in [*results.api_token.items(), *results.pages.items()]:
        province = PROVINCE_OF.get(key[2])
        if province:
            seen[province].update(answer.found[province])
    assert {province: len(found) > 10 for province, found in seen.items()} == dict.fromkeys(results.markers, True)


@pytest.mark.django_db  # sets the test database up; the world lives in the module fixture
def test_hospital_b_replaying_hospital_a_deliveries_replays_nothing(results):
    assert results.facts["replayed_by_b"] == 0


@pytest.mark.django_db  # sets the test database up; the world lives in the module fixture
def test_province_a_staff_see_their_own_hospitals_deliveries(results):
    assert results.facts["a_sees_own_delivery"] is True


@pytest.mark.django_db  # sets the test database up; the world lives in the module fixture
def test_every_cell_of_the_matrix_was_asked(results):
    """Rows × callers: API with tokens and keys, API with each staff session, pages (RELIABILITY.md's figures)."""
    sizes = (len(results.api_token), len(results.api_session), len(results.pages))
    assert sizes == (len(API_EXPECTED) * len(CALLERS), len(API_EXPECTED) * len(STAFF), len(PAGE_EXPECTED) * len(CALLERS))
