"""Every API endpoint, enumerated from the URL resolver, with a request that targets province A's /
hospital A's objects (tests/security/world.py). A new endpoint (or a new method on one) without an
entry in REQUESTS makes the access matrix fail."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.security.world import World

METHODS = ("get", "post", "put", "patch", "delete")


def api_endpoints() -> Iterator[tuple[str, str]]:
    """(url name, method) of every view under /api/ (schema and docs included) and /fhir/."""

    def walk(patterns: Any, prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern), entry

    for route, pattern in walk(get_resolver().url_patterns, ""):
        if not route.startswith(("api/", "fhir/")):
            continue
        view = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
        for method in METHODS:
            if view is not None and hasattr(view, method):
                yield str(pattern.name), method


@dataclass(frozen=True)
class Call:
    kwargs: Callable[[World], dict[str, Any]]
    body: Callable[[World], Any] | None = None
    multipart: bool = False
    headers: Callable[[World], dict[str, str]] | None = None

    def send(self, client: Any, name: str, method: str, world: World) -> Any:
        url = reverse(name, kwargs=self.kwargs(world))
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (self.headers(world) if self.headers else {}).items()}
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


def _item_body(w: World) -> dict[str, Any]:
    from apps.catalog.selectors import item_as_dict

    return item_as_dict(w.draft.items.get(code=w.item_code))


def _csv(w: World) -> dict[str, Any]:
    content = b"code,name,category\nXA01AAA001A001010100001,test,01\n"
    return {"file": SimpleUploadedFile("items.csv", content, content_type="text/csv"), "format": "canonical-csv"}


def _settlements(w: World) -> dict[str, Any]:
    header = "settlement_id,home_province,destination_province,hospital_code,patient_id_hash,date_of_service,release_label,drg_group,total_fen,fund_fen,patient_fen\n"
    return {"file": SimpleUploadedFile("s.csv", header.encode(), content_type="text/csv"), "side": "destination", "period": "2026-03"}


def _precheck(w: World) -> dict[str, Any]:
    return {
        "home_province": "310000",
        "hospital": w.hospital_a.code,
        "date_of_service": "2026-03-01",
        "scheme": "employee",
        "setting": "outpatient",
        "lines": [{"line_no": 1, "code": w.item_code, "quantity": 1, "amount_fen": 1000}],
    }


def _fhir_system() -> str:
    from apps.hospitals.api.fhir.resources import system_url

    return system_url()


REQUESTS: dict[tuple[str, str], Call] = {
    ("job-detail", "get"): Call(lambda w: {"pk": w.job_id}),
    ("audit-event-list", "get"): Call(_none),
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
    ("notice-delivery-replay", "post"): Call(_none, lambda w: {"ids": [w.extra["delivery_a"]]}),
    ("notice-item-usage", "put"): Call(_none, lambda w: {"codes": [w.item_code]}),
    ("webhook-endpoint-list", "get"): Call(_none),
    ("webhook-endpoint-list", "post"): Call(_none, lambda w: {"url": "http://127.0.0.1:9/other"}),
    ("webhook-endpoint-rotate", "post"): Call(lambda w: {"pk": w.endpoint_a_id}, lambda w: {}),
    ("webhook-endpoint-detail", "get"): Call(lambda w: {"pk": w.endpoint_a_id}),
    ("webhook-endpoint-detail", "patch"): Call(lambda w: {"pk": w.endpoint_a_id}, lambda w: {"event_types": []}),
    ("webhook-endpoint-detail", "delete"): Call(lambda w: {"pk": w.endpoint_a_id}),
    ("webhook-endpoint-test", "post"): Call(lambda w: {"pk": w.endpoint_a_id}, lambda w: {}),
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
    ("account-list", "get"): Call(_none),
    ("account-detail", "get"): Call(lambda w: {"pk": w.account_a.pk}),
    ("account-entries", "get"): Call(lambda w: {"pk": w.account_a.pk}),
    ("transfer-list", "get"): Call(_none),
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
    ("reconciliation-run-list", "post"): Call(_none, lambda w: {"period": "2026-03"}),
    ("reconciliation-run-detail", "get"): Call(lambda w: {"pk": w.extra["run"]}),
    ("reconciliation-run-discrepancies", "get"): Call(lambda w: {"pk": w.extra["run"]}),
    ("settlement-import", "post"): Call(_none, _settlements, multipart=True),
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
}
