"""Every endpoint of the URL conf, enumerated from the resolver, with one request each that
targets province A's / hospital A's objects (tests/security/world.py). A new API view (or a new
method on one) or a new page without an entry here makes the access matrix fail.

- ``API``: views under /api/ (and the schema and docs), keyed by (url name, method);
- ``PAGES``: every other URL outside /admin/ (staff pages, health, language switch), keyed the
  same way; the admin is swept by tests/security/test_access_matrix.py from its registry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.security.world import A_PARTNER, PERIOD, World

METHODS = ("get", "post", "put", "patch", "delete")


def _routes() -> Iterator[tuple[str, str, URLPattern]]:
    """(route, name with its namespace, pattern) of every URL pattern."""

    def walk(patterns: Any, prefix: str, namespace: str) -> Iterator[tuple[str, str, URLPattern]]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern), f"{namespace}{entry.name}", entry

    yield from walk(get_resolver().url_patterns, "", "")


def api_endpoints() -> Iterator[tuple[str, str]]:
    """(url name, method) of every view under /api/ (schema and docs included) and /fhir/."""
    for route, name, pattern in _routes():
        if not route.startswith(("api/", "fhir/")):
            continue
        view = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
        for method in METHODS:
            if view is not None and hasattr(view, method):
                yield name, method


def page_names() -> set[str]:
    """Every named URL outside /api/ and /admin/ (staff pages, health, language switch)."""
    return {name for route, name, _ in _routes() if not route.startswith(("api/", "admin/", "fhir/"))}


@dataclass(frozen=True)
class Call:
    kwargs: Callable[[World], dict[str, Any]]
    body: Callable[[World], Any] | None = None
    multipart: bool = False
    headers: Callable[[World], dict[str, str]] | None = None

    def request_text(self, name: str, world: World) -> str:
        """The URL and body as sent: a marker the caller sent herself is no leak when echoed."""
        body = self.body(world) if self.body else {}
        shown = {k: v for k, v in body.items() if not hasattr(v, "read")} if isinstance(body, dict) else body
        return reverse(name, kwargs=self.kwargs(world)) + " " + str(shown)

    def send(self, client: Any, name: str, method: str, world: World, *, csrf: str = "") -> Any:
        url = reverse(name, kwargs=self.kwargs(world))
        headers = dict(self.headers(world)) if self.headers else {}
        if csrf and method != "get":
            headers["X-CSRFToken"] = csrf  # what a page's script sends along with the session cookie
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        body = self.body(world) if self.body else None
        if method == "get":
            return client.get(url, body or {}, **extra)
        return getattr(client, method)(url, body, format="multipart" if self.multipart else "json", **extra)


def _none(w: World) -> dict[str, Any]:
    return {}


def _draft(w: World) -> dict[str, Any]:
    return {"label": w.draft.label}


def _published(w: World) -> dict[str, Any]:
    return {"label": w.published.label}


def _transfer(w: World) -> dict[str, Any]:
    return {"pk": w.transfer_a.pk}


def _run(w: World) -> dict[str, Any]:
    return {"pk": w.run}


def _batch_a(w: World) -> dict[str, Any]:
    from apps.core.models import Job

    return {"pk": Job.objects.get(pk=w.job_a).result["batch"]}


def _item_body(w: World) -> dict[str, Any]:
    from apps.catalog.selectors import item_as_dict

    return item_as_dict(w.draft.items.get(code=w.item_code))


def _csv(w: World) -> dict[str, Any]:
    content = b"code,name,category\nXA01AAA001A001010100001,test,01\n"
    return {"file": SimpleUploadedFile("items.csv", content, content_type="text/csv"), "format": "canonical-csv"}


def _settlements(w: World) -> dict[str, Any]:
    header = "settlement_id,home_province,destination_province,hospital_code,patient_id_hash,date_of_service,release_label,drg_group,total_fen,fund_fen,patient_fen\n"
    return {"file": SimpleUploadedFile("s.csv", header.encode(), content_type="text/csv"), "side": "destination", "period": PERIOD}


def _figures(w: World) -> dict[str, Any]:
    content = b"region_code,period,fund_income_fen,fund_expenditure_fen,active_insured,retirees\n310000,2026-03,100,90,10,4\n"
    return {"file": SimpleUploadedFile("figures.csv", content, content_type="text/csv")}


def _statement_range(w: World) -> dict[str, Any]:
    """The last month up to tomorrow (the world's entries were posted today), as CSV, so that the
    leak check reads every memo and amount of the statement."""
    today = dt.date.today()
    return {"from": (today - dt.timedelta(days=30)).isoformat(), "to": (today + dt.timedelta(days=1)).isoformat(), "format": "csv"}


def _fhir_system() -> str:
    from apps.hospitals.api.fhir.resources import system_url

    return system_url()


def _precheck(w: World) -> dict[str, Any]:
    return {
        "home_province": "310000",
        "hospital": "H31010500123",
        "date_of_service": "2026-03-01",
        "scheme": "employee",
        "setting": "outpatient",
        "lines": [{"line_no": 1, "code": w.item_code, "quantity": 1, "amount_fen": 1000}],
    }


def _policy(w: World) -> dict[str, Any]:
    return {
        "province": "310000",
        "scheme": "resident",
        "setting": "inpatient",
        "effective_from": "2027-01-01",
        "deductible_fen": 10_000,
        "ratio_category_a": "0.9",
        "ratio_category_b": "0.8",
        "annual_cap_fen": 40_000_000,
    }


API: dict[tuple[str, str], Call] = {
    ("job-detail", "get"): Call(lambda w: {"pk": w.job_a}),
    ("release-list", "get"): Call(_none),
    ("release-list", "post"): Call(_none, lambda w: {"label": "2027.01", "effective_from": "2027-01-01"}),
    ("release-detail", "get"): Call(_draft),
    ("release-submit", "post"): Call(_draft, lambda w: {}),
    ("release-approve", "post"): Call(_draft, lambda w: {}),
    ("release-reject", "post"): Call(_draft, lambda w: {"reason": "no"}),
    ("release-publish", "post"): Call(_draft, lambda w: {}),
    ("release-items", "get"): Call(_draft),
    ("release-item", "get"): Call(lambda w: {"label": w.draft.label, "code": w.item_code}),
    ("release-item", "put"): Call(lambda w: {"label": w.draft.label, "code": w.item_code}, _item_body),
    ("release-item", "delete"): Call(lambda w: {"label": w.draft.label, "code": w.item_code}),
    ("release-diff", "get"): Call(_draft, lambda w: {"against": w.published.label}),
    ("release-imports", "post"): Call(_draft, _csv, multipart=True),
    ("notice-list", "get"): Call(_none),
    ("notice-delivery-list", "get"): Call(_none),
    ("notice-delivery-replay", "post"): Call(_none, lambda w: {"ids": [w.delivery_a]}),
    ("notice-item-usage", "put"): Call(_none, lambda w: {"codes": [w.item_code]}),
    ("webhook-endpoint-list", "get"): Call(_none),
    ("webhook-endpoint-list", "post"): Call(_none, lambda w: {"url": "http://127.0.0.1:9/other"}),
    ("webhook-endpoint-rotate", "post"): Call(lambda w: {"pk": w.endpoint_a}, lambda w: {}),
    ("webhook-endpoint-detail", "get"): Call(lambda w: {"pk": w.endpoint_a}),
    ("webhook-endpoint-detail", "patch"): Call(lambda w: {"pk": w.endpoint_a}, lambda w: {"event_types": []}),
    ("webhook-endpoint-detail", "delete"): Call(lambda w: {"pk": w.endpoint_a}),
    ("webhook-endpoint-test", "post"): Call(lambda w: {"pk": w.endpoint_a}, lambda w: {}),
    ("audit-event-list", "get"): Call(_none),
    # Wrong credentials: no session or key stands in for a password.
    ("staff-token", "post"): Call(_none, lambda w: {"username": "matrix-nobody", "password": "wrong password"}),
    ("staff-token", "delete"): Call(_none),
    ("release-ack", "post"): Call(_published, lambda w: {"loaded_at": "2026-01-02T08:00:00+08:00"}),
    ("hospital-catalog-releases", "get"): Call(_none),
    ("hospital-catalog-release", "get"): Call(_published),
    ("hospital-catalog-items", "get"): Call(_published),
    ("hospital-catalog-export-csv", "get"): Call(_published),
    ("hospital-catalog-export-jsonl", "get"): Call(_published),
    ("hospital-catalog-diff", "get"): Call(_published),
    ("hospital-catalog-item", "get"): Call(lambda w: {"code": w.item_code}, lambda w: {"on": "2026-03-01"}),
    ("hospital-me", "get"): Call(_none),
    ("hospital-keys", "get"): Call(_none),
    ("hospital-key", "get"): Call(lambda w: {"prefix": w.key_a_prefix}),
    ("hospital-key-revoke", "post"): Call(lambda w: {"prefix": w.key_a_prefix}, lambda w: {}),
    ("account-list", "get"): Call(_none, lambda w: {"page_size": 1000}),
    ("account-detail", "get"): Call(lambda w: {"pk": w.account_a.pk}),
    ("account-entries", "get"): Call(lambda w: {"pk": w.account_a.pk}),
    # CSV, so that the leak check reads every memo and amount of the statement
    ("account-statement", "get"): Call(lambda w: {"pk": w.account_a.pk}, _statement_range),
    ("transfer-list", "get"): Call(_none, lambda w: {"page_size": 1000}),
    ("transfer-list", "post"): Call(
        _none,
        lambda w: {"from_account": w.account_a.pk, "to_account": w.national.pk, "amount_fen": 100, "memo": "m"},
        headers=lambda w: {"Idempotency-Key": "matrix-1"},
    ),
    ("transfer-detail", "get"): Call(_transfer),
    ("transfer-approve", "post"): Call(_transfer, lambda w: {}),
    ("transfer-reject", "post"): Call(_transfer, lambda w: {"reason": "no"}),
    ("transfer-void", "post"): Call(_transfer, lambda w: {"reason": "no"}),
    ("transfer-reverse", "post"): Call(_transfer, lambda w: {"reason": "no"}),
    ("claims-precheck", "post"): Call(_none, _precheck),
    ("benefits-simulate", "post"): Call(_none, lambda w: {**_precheck(w), "destination_province": "510000"}),
    ("benefit-policy-list", "get"): Call(_none, lambda w: {"page_size": 1000}),
    ("benefit-policy-list", "post"): Call(_none, _policy),
    ("benefit-policy-submit", "post"): Call(lambda w: {"pk": w.policy_a_draft.pk}, lambda w: {}),
    ("benefit-policy-approve", "post"): Call(lambda w: {"pk": w.policy_a_submitted.pk}, lambda w: {}),
    ("reconciliation-run-list", "post"): Call(_none, lambda w: {"period": PERIOD}),
    ("reconciliation-run-detail", "get"): Call(_run),
    ("reconciliation-run-discrepancies", "get"): Call(_run),
    ("reconciliation-run-statement", "get"): Call(_run, lambda w: {"province": "310000", "format": "json"}),
    ("settlement-import", "post"): Call(_none, _settlements, multipart=True),
    ("settlement-batch-list", "get"): Call(_none, lambda w: {"period": PERIOD}),
    ("settlement-batch-withdraw", "post"): Call(_batch_a, lambda w: {"reason": "重复上传"}),
    ("reconciliation-run-discrepancy-list", "get"): Call(_run, lambda w: {"page_size": 1000}),
    ("discrepancy-dispute", "post"): Call(lambda w: {"pk": w.discrepancies["open"]}, lambda w: {"reason": "请核对"}),
    ("discrepancy-resolve", "post"): Call(
        lambda w: {"pk": w.discrepancies["open"]}, lambda w: {"resolution": "write_off", "reason": "核销"}
    ),
    ("discrepancy-approve", "post"): Call(lambda w: {"pk": w.discrepancies["proposed"]}, lambda w: {}),
    ("reconciliation-compliance", "get"): Call(_none, lambda w: {"period": PERIOD, "province": "310000"}),
    ("reconciliation-compliance-csv", "get"): Call(_none, lambda w: {"period": PERIOD, "province": "310000"}),
    ("pooling-figures-list", "get"): Call(_none),
    ("pooling-figures-import", "post"): Call(_none, _figures, multipart=True),
    ("pooling-adjustment-run-list", "get"): Call(_none),
    ("pooling-adjustment-run-list", "post"): Call(_none, lambda w: {"period": "2026-03", "province": "310000"}),
    ("pooling-adjustment-run-detail", "get"): Call(lambda w: {"pk": w.pooling["adjustment_run"]}),
    ("pooling-advance-list", "get"): Call(_none),
    ("pooling-budget-list", "get"): Call(_none),
    ("pooling-budget-list", "post"): Call(
        _none, lambda w: {"year": 2027, "province": "310000", "expenditure_fen": 1000, "cross_regional_fen": 100}
    ),
    ("pooling-budget-detail", "get"): Call(lambda w: {"pk": w.pooling["budget_a"]}),
    ("pooling-unification-list", "post"): Call(_none, lambda w: {"province": "310000", "reason": "统收统支"}),
    ("pooling-unification-detail", "get"): Call(lambda w: {"pk": w.pooling["unification_a"]}),
    ("pooling-unification-complete", "post"): Call(lambda w: {"pk": w.pooling["unification_a"]}, lambda w: {}),
    ("catalog-validate", "post"): Call(_none, lambda w: {"on": "2026-03-01", "codes": [w.item_code], "province": "310000"}),
    ("catalog-local-items", "get"): Call(_none, lambda w: {"province": "310000", "on": "2026-03-01"}),
    ("hospital-mappings", "get"): Call(_none),
    ("hospital-mappings", "put"): Call(_none, lambda w: [{"local_code": "M1", "local_name": "m", "national_code": w.item_code}]),
    ("fhir-metadata", "get"): Call(_none),
    ("fhir-codesystem-search", "get"): Call(_none),
    ("fhir-codesystem-read", "get"): Call(lambda w: {"resource_id": f"national-catalog-{w.published.label}"}),
    ("fhir-codesystem-lookup", "get"): Call(_none, lambda w: {"system": _fhir_system(), "code": w.item_code, "date": "2026-03-01"}),
    ("fhir-codesystem-validate-code", "get"): Call(_none, lambda w: {"url": _fhir_system(), "code": w.item_code, "date": "2026-03-01"}),
    ("fhir-conceptmap-translate", "get"): Call(_none, lambda w: {"system": _fhir_system(), "code": w.item_code, "date": "2026-03-01"}),
    ("schema", "get"): Call(_none),
    ("swagger-ui", "get"): Call(_none),
    ("redoc", "get"): Call(_none),
}

PAGES: dict[tuple[str, str], Call] = {
    ("healthz", "get"): Call(_none),
    ("hospitals:mapping-issues", "get"): Call(_none),
    ("hospitals:hospital-mapping-issues", "get"): Call(lambda w: {"code": "H31010500123"}),
    ("set_language", "post"): Call(_none, lambda w: {"language": "en", "next": "/staff/"}, multipart=True),
    ("catalog:release-review", "get"): Call(_draft),
    ("catalog:release-diff-csv", "get"): Call(_draft),
    ("catalog:release-action", "post"): Call(lambda w: {"label": w.draft.label, "action": "submit"}, lambda w: {}, multipart=True),
    ("notices:adoption", "get"): Call(_none),
    ("reconciliation:run-report", "get"): Call(_run),
    ("reconciliation:pair-report", "get"): Call(lambda w: {"pk": w.run, "home": "310000", "destination": A_PARTNER}),
    ("reconciliation:compliance", "get"): Call(_none, lambda w: {"period": PERIOD}),
    ("staff:home", "get"): Call(_none),
    ("root", "get"): Call(_none),
    ("staff:job", "get"): Call(lambda w: {"pk": w.job_a}),
    ("staff:job-outcome", "get"): Call(lambda w: {"pk": w.job_a}),
    ("staff:job-errors-csv", "get"): Call(lambda w: {"pk": w.job_a}),
    ("pooling:statements", "get"): Call(_none),
    # the range that holds the world's entries, so that the leak check reads every row shown
    ("pooling:account-statement", "get"): Call(
        lambda w: {"pk": w.account_a.pk}, lambda w: {k: v for k, v in _statement_range(w).items() if k != "format"}
    ),
}
