"""Reads for change notices: a hospital's notices after a sequence number, its endpoints,
deliveries, and the adoption figures per province."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from apps.catalog.models import CatalogRelease
from apps.hospitals.mapping_selectors import mapping_issues_for_notices
from apps.hospitals.models import Hospital

from . import payloads
from .models import ChangeNotice, NoticeDelivery, ReleaseAcknowledgement, WebhookEndpoint


def notice_rows(qs: QuerySet[ChangeNotice]) -> list[dict[str, Any]]:
    """ChangeNotice queryset → webhook bodies (for the pull API)."""
    rows: list[dict[str, Any]] = [
        dict(r)
        for r in qs.values(
            "id", "event_type", "webhook_id", "seq", "affected_items", "release_id", "hospital_id", "hospital__code", "created_at"
        )
    ]
    releases = {r.pk: r for r in CatalogRelease.objects.filter(pk__in={row["release_id"] for row in rows})}
    parts = {pk: (payloads.release_payload(r), r.diff_counts or {}) for pk, r in releases.items()}
    issues = mapping_issues_for_notices((row["hospital_id"], row["release_id"]) for row in rows)
    out = []
    for row in rows:
        part, counts = parts[row["release_id"]]
        row["hospital_code"] = row.pop("hospital__code")
        row["mapping_issues"] = issues.get((row.pop("hospital_id"), row["release_id"]))
        out.append({"row": row, "body": payloads.notice_body(notice=row, release_part=part, diff_counts=counts)})
    return out


def endpoints_of(*, hospital_id: int) -> QuerySet[WebhookEndpoint]:
    """The hospital's endpoints (deleted ones are gone for it), oldest first."""
    return WebhookEndpoint.objects.filter(hospital_id=hospital_id, deleted_at__isnull=True).order_by("id")


def endpoint_of(*, hospital_id: int, endpoint_id: int) -> WebhookEndpoint | None:
    """One of the hospital's endpoints; None for another hospital's (the caller answers 404, so
    an id says nothing about who holds it)."""
    return endpoints_of(hospital_id=hospital_id).filter(pk=endpoint_id).first()


def notices_after(*, hospital_id: int, after_seq: int, limit: int) -> list[dict[str, Any]]:
    """The hospital's notices with seq > after_seq in order, as webhook bodies + delivery_state
    (delivered / failed / pending / not_sent when it has no endpoint)."""
    qs = ChangeNotice.objects.filter(hospital_id=hospital_id, seq__gt=after_seq).order_by("seq")[:limit]
    rows = notice_rows(qs)
    states: dict[int, set[str]] = {}
    for notice_id, state in NoticeDelivery.objects.filter(notice_id__in=[r["row"]["id"] for r in rows]).values_list("notice_id", "state"):
        states.setdefault(notice_id, set()).add(state)
    out = []
    for r in rows:
        seen = states.get(r["row"]["id"], set())
        state = next((s for s in ("delivered", "pending", "failed") if s in seen), "not_sent")
        out.append({**r["body"], "delivery_state": state, "created_at": r["row"]["created_at"].isoformat()})
    return out


def deliveries_for(*, hospital_id: int | None, state: str | None = None, province_code: str = "") -> QuerySet[NoticeDelivery]:
    """Deliveries of one hospital (``hospital_id``), of one province's hospitals (``province_code``:
    province-scoped staff never see another province's hospitals), or all."""
    qs = NoticeDelivery.objects.select_related("notice", "endpoint", "notice__release", "notice__hospital").order_by("-id")
    if hospital_id is not None:
        qs = qs.filter(notice__hospital_id=hospital_id)
    if province_code:
        qs = qs.filter(notice__hospital__province__code=province_code)
    if state:
        qs = qs.filter(state=state)
    return qs


def current_release(*, on_date: dt.date | None = None) -> CatalogRelease | None:
    """The latest published release (the one hospitals should be loading, even before it takes effect)."""
    return CatalogRelease.objects.filter(status=CatalogRelease.Status.PUBLISHED).order_by("-published_at", "-id").first()


def adoption_by_province(*, release: CatalogRelease, province_code: str = "") -> list[dict[str, Any]]:
    """Per province: active hospitals, how many acknowledged ``release``, how many have a failing
    or disabled endpoint. Computed with grouped counts (no per-hospital queries)."""
    acked = ReleaseAcknowledgement.objects.filter(release=release, hospital_id=OuterRef("pk"))
    failing = WebhookEndpoint.objects.filter(hospital_id=OuterRef("pk"), deleted_at__isnull=True).filter(
        Q(active=False) | Q(failing_since__isnull=False)
    )
    qs = Hospital.objects.filter(active=True)
    if province_code:
        qs = qs.filter(province__code=province_code)
    rows = (
        qs.annotate(acked=Exists(acked), failing=Exists(failing))
        .values("province__code", "province__name")
        .annotate(total=Count("id"), acknowledged=Count("id", filter=Q(acked=True)), failing_endpoints=Count("id", filter=Q(failing=True)))
        .order_by("province__code")
    )
    out = []
    for r in rows:
        total = r["total"]
        out.append(
            {
                "code": r["province__code"],
                "name": r["province__name"],
                "total": total,
                "acknowledged": r["acknowledged"],
                "missing": total - r["acknowledged"],
                "failing_endpoints": r["failing_endpoints"],
                "percent": round(100.0 * r["acknowledged"] / total, 1) if total else 0.0,
            }
        )
    return out


def hospitals_not_acknowledged(*, release: CatalogRelease, province_code: str = "", limit: int = 200) -> QuerySet[Hospital]:
    qs = Hospital.objects.filter(active=True).exclude(acknowledgements__release=release).select_related("province")
    if province_code:
        qs = qs.filter(province__code=province_code)
    return qs.order_by("province__code", "code")[:limit]


def failing_endpoints(*, province_code: str = "", limit: int = 200) -> QuerySet[WebhookEndpoint]:
    qs = (
        WebhookEndpoint.objects.filter(deleted_at__isnull=True)
        .filter(Q(active=False) | Q(failing_since__isnull=False))
        .select_related("hospital", "hospital__province")
    )
    if province_code:
        qs = qs.filter(hospital__province__code=province_code)
    return qs.order_by("hospital__province__code", "hospital__code")[:limit]


def days_since(when: dt.datetime | None) -> int | None:
    return (timezone.now() - when).days if when else None
