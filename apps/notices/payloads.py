"""The webhook body (API.md "Hospitals and notices"): built once here for the sender, the pull
API and the test ping, so the three never drift apart."""

from __future__ import annotations

from typing import Any

from apps.catalog.models import CatalogRelease

from . import conf


def base_url() -> str:
    return str(conf._setting("PORTAL_BASE_URL", "http://127.0.0.1:8000", str)).rstrip("/")


def release_payload(release: CatalogRelease) -> dict[str, Any]:
    base = base_url()
    exports = {}
    for kind, ext in (("csv_gz", "export.csv.gz"), ("jsonl_gz", "export.jsonl.gz")):
        meta = (release.exports or {}).get(kind) or {}
        exports[kind] = {
            "url": f"{base}/api/v1/catalog/releases/{release.label}/{ext}",
            "sha256": meta.get("sha256", ""),
            "bytes": meta.get("bytes"),
        }
    return {
        "label": release.label,
        "effective_from": release.effective_from.isoformat(),
        "published_at": release.published_at.isoformat() if release.published_at else None,
        "sha256": release.sha256,
        "exports": exports,
    }


def notice_body(*, notice: dict[str, Any], release_part: dict[str, Any], diff_counts: dict[str, Any]) -> dict[str, Any]:
    """The webhook body for one notice; the pull endpoint returns the same dict."""
    body: dict[str, Any] = {
        "type": notice["event_type"],
        "id": notice["webhook_id"],
        "seq": notice["seq"],
        "hospital": notice["hospital_code"],
        "release": release_part,
        "diff_counts": diff_counts,
    }
    if notice["affected_items"] is not None:
        body["affected_items"] = notice["affected_items"]
    if notice.get("mapping_issues") is not None:
        body["mapping_issues"] = mapping_issues_part(count=notice["mapping_issues"], release_part=release_part)
    return body


def mapping_issues_part(*, count: int, release_part: dict[str, Any]) -> dict[str, Any]:
    """How many of the hospital's code mappings the release breaks, and where to list them (the
    mapping list checked against the release, i.e. on its effective date)."""
    query = f"on={release_part['effective_from']}&status=retired,not_in_force,unknown"
    return {"count": count, "url": f"{base_url()}/api/v1/hospital/mappings/?{query}"}


def ping_body(*, webhook_id: str, hospital_code: str, endpoint_id: int, sent_at: str) -> dict[str, Any]:
    """``test.ping``: what a hospital's receiver gets from ``POST …/endpoints/{id}/test/``."""
    return {"type": "test.ping", "id": webhook_id, "hospital": hospital_code, "endpoint": endpoint_id, "sent_at": sent_at}
