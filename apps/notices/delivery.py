"""Recording deliveries: lease a batch of due deliveries, build their signed requests, hand them
to the transport, then write every attempt and decide what happens next (delivered, retry with
jittered back-off and Retry-After, failed, endpoint disabled on 410 or after 5 days failing).

At-least-once: a batch is claimed with a lease; a worker killed mid-batch leaves the lease to
expire and the rows are claimed again (by the redelivered acks_late message or the sweep), so
a receiver may see a message twice and dedupes by ``webhook-id``.

How a request is signed and sent (and where it may go) is ``transport``'s business.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from apps.catalog.models import CatalogRelease
from apps.hospitals.mapping_selectors import mapping_issues_for_notices

from . import conf, payloads, transport
from .models import DeliveryError, NoticeDelivery, WebhookEndpoint
from .services import endpoint_disable
from .transport import HttpOutcome, WebhookRequest

RETRYABLE_4XX = frozenset({408, 425, 429})


def signing_secrets(endpoint: dict[str, Any], now: dt.datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during its overlap."""
    live = [endpoint["secret"]]
    expires = endpoint["previous_secret_expires_at"]
    if endpoint["previous_secret"] and expires and expires > now:
        live.append(endpoint["previous_secret"])
    return live


def retry_delay(*, attempts_made: int, retry_after: float | None = None, rng: random.Random | None = None) -> float | None:
    """Seconds until the next attempt after ``attempts_made`` failures, or None when the schedule
    is exhausted. ±jitter spreads retries; a receiver's Retry-After is honoured (clamped)."""
    schedule = conf.retry_schedule()
    if attempts_made >= len(schedule):
        return None
    jitter = conf.retry_jitter()
    delay = schedule[attempts_made] * (1 + (rng or random).uniform(-jitter, jitter))
    if retry_after is not None:
        delay = max(delay, min(max(retry_after, 0.0), conf.retry_after_max()))
    return max(delay, 0.0)


# --- claiming a batch ------------------------------------------------------------------------

_REQUEST_COLUMNS = (
    "id",
    "endpoint_id",
    "endpoint__url",
    "endpoint__secret",
    "endpoint__previous_secret",
    "endpoint__previous_secret_expires_at",
    "notice__event_type",
    "notice__webhook_id",
    "notice__seq",
    "notice__affected_items",
    "notice__release_id",
    "notice__hospital__code",
    "notice__hospital_id",
)

# One round trip: lease the due rows (SKIP LOCKED lets two workers share a backlog without
# waiting on each other) and return everything a signed request needs, in _REQUEST_COLUMNS order.
_CLAIM_SQL = """
WITH due AS (
    SELECT delivery.id FROM notices_noticedelivery delivery
    WHERE delivery.state = 'pending' AND delivery.next_attempt_at <= %(now)s
      AND (delivery.lease_until IS NULL OR delivery.lease_until <= %(now)s)
      AND (%(ids)s::bigint[] IS NULL OR delivery.id = ANY(%(ids)s::bigint[]))
    ORDER BY delivery.id
    LIMIT %(limit)s
    FOR UPDATE OF delivery SKIP LOCKED
), leased AS (
    UPDATE notices_noticedelivery delivery SET lease_until = %(lease)s FROM due WHERE delivery.id = due.id
    RETURNING delivery.id, delivery.endpoint_id, delivery.notice_id
)
SELECT leased.id, leased.endpoint_id, endpoint.url, endpoint.secret, endpoint.previous_secret,
       endpoint.previous_secret_expires_at, notice.event_type, notice.webhook_id, notice.seq,
       notice.affected_items, notice.release_id, hospital.code, notice.hospital_id
FROM leased
JOIN notices_webhookendpoint endpoint ON endpoint.id = leased.endpoint_id
JOIN notices_changenotice notice ON notice.id = leased.notice_id
JOIN hospitals_hospital hospital ON hospital.id = notice.hospital_id
ORDER BY leased.id
"""


def claim_requests(delivery_ids: Sequence[int] | None, *, now: dt.datetime, limit: int | None = None) -> list[WebhookRequest]:
    """Lease the given (or, with None, any) due pending deliveries nobody holds and return their
    signed requests. The lease and the read are one statement (one round trip per batch)."""
    params = {
        "now": now,
        "lease": now + dt.timedelta(seconds=conf.lease_seconds()),
        "ids": list(delivery_ids) if delivery_ids is not None else None,
        "limit": limit,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # Only a lease is at stake here: should PostgreSQL lose this commit in a crash, the rows
        # are claimed again and a receiver may see a message twice, which at-least-once allows.
        # So this commit does not wait for its WAL flush (the outcomes' commit in record() does).
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute(_CLAIM_SQL, params)
        rows = [dict(zip(_REQUEST_COLUMNS, r, strict=True)) for r in cursor.fetchall()]
    for r in rows:  # a raw cursor leaves jsonb as text
        if isinstance(r["notice__affected_items"], str):
            r["notice__affected_items"] = json.loads(r["notice__affected_items"])
    return _signed(rows, now=now)


def build_requests(delivery_ids: Sequence[int], *, now: dt.datetime) -> list[WebhookRequest]:
    """The signed requests for these deliveries (no lease taken)."""
    rows = list(NoticeDelivery.objects.filter(pk__in=list(delivery_ids)).order_by("id").values(*_REQUEST_COLUMNS))
    return _signed(rows, now=now)


# One encoder for every body (json.dumps with these options builds a new one per call).
_BODY_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _signed(rows: list[dict[str, Any]], *, now: dt.datetime) -> list[WebhookRequest]:
    releases: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
    for release in CatalogRelease.objects.filter(pk__in={r["notice__release_id"] for r in rows}):
        releases[release.pk] = (payloads.release_payload(release), release.diff_counts or {})
    signer = transport.Signer()
    timestamp = transport.signing_timestamp(now)
    issues = mapping_issues_for_notices((r["notice__hospital_id"], r["notice__release_id"]) for r in rows)
    out = []
    for r in rows:
        release_part, diff_counts = releases[r["notice__release_id"]]
        notice: dict[str, Any] = {
            "event_type": r["notice__event_type"],
            "webhook_id": r["notice__webhook_id"],
            "seq": r["notice__seq"],
            "hospital_code": r["notice__hospital__code"],
            "affected_items": r["notice__affected_items"],
            "mapping_issues": issues.get((r["notice__hospital_id"], r["notice__release_id"])),
        }
        body = _BODY_ENCODER.encode(payloads.notice_body(notice=notice, release_part=release_part, diff_counts=diff_counts))
        secrets = signing_secrets(
            {
                "secret": r["endpoint__secret"],
                "previous_secret": r["endpoint__previous_secret"],
                "previous_secret_expires_at": r["endpoint__previous_secret_expires_at"],
            },
            now,
        )
        headers = signer.headers(secrets=secrets, msg_id=notice["webhook_id"], timestamp=timestamp, body=body)
        out.append(WebhookRequest(r["id"], r["endpoint_id"], r["endpoint__url"], headers, body.encode()))
    return out


# --- recording outcomes ----------------------------------------------------------------------


@dataclass
class _Next:
    """A delivery's state after an attempt (the columns ``record`` writes back)."""

    id: int
    state: str
    attempts: int
    last_status: int | None = None
    last_error: str = ""
    last_error_code: str = ""
    delivered_at: dt.datetime | None = None
    failed_at: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None


def record(outcomes: Sequence[HttpOutcome], *, now: dt.datetime) -> dict[str, Any]:
    """Write the attempts and each delivery's next state in one transaction; disable endpoints
    that answered 410 or have failed continuously for NOTICE_DISABLE_AFTER. Returns a summary
    with ``next_retry_in`` (seconds to the earliest scheduled retry, or None).

    Only deliveries still pending are recorded (one a replay or a disable settled meanwhile is
    left alone). Set-based: COPY for the attempts, one UPDATE for the successes (no read
    first), one read and one UPDATE for the rest."""
    unique: dict[int, HttpOutcome] = {}
    for o in outcomes:
        unique.setdefault(o.delivery_id, o)  # a delivery id listed twice is recorded once
    succeeded = [o for o in unique.values() if o.succeeded]
    others = [o for o in unique.values() if not o.succeeded]
    current: dict[int, int] = {}  # pending delivery id -> attempts made so far
    if others:
        for pk, attempts_made, state in NoticeDelivery.objects.filter(pk__in=[o.delivery_id for o in others]).values_list(
            "id", "attempts", "state"
        ):
            if state == NoticeDelivery.State.PENDING:
                current[pk] = attempts_made
    attempts: list[tuple[Any, ...]] = []
    updates: list[_Next] = []
    gone: set[int] = set()
    ok_endpoints: set[int] = set()
    failed_endpoints: set[int] = set()
    next_retry: float | None = None
    summary: dict[str, Any] = {"delivered": 0, "retry": 0, "failed": 0}
    for o in others:
        if o.delivery_id not in current:
            continue
        attempts.append(_attempt_row(o))
        d = _Next(o.delivery_id, NoticeDelivery.State.PENDING, current[o.delivery_id] + 1, o.status, o.error[:255], o.error_code)
        updates.append(d)
        failed_endpoints.add(o.endpoint_id)
        retryable = o.status is None or o.status >= 500 or o.status in RETRYABLE_4XX
        delay = retry_delay(attempts_made=d.attempts, retry_after=o.retry_after) if retryable else None
        if o.status == 410:
            gone.add(o.endpoint_id)
            delay = None
            d.last_error = "410 Gone: endpoint disabled"
        if delay is None:
            d.state, d.failed_at = NoticeDelivery.State.FAILED, now
            if not retryable and o.status != 410:
                d.last_error = f"HTTP {o.status} (not retried)"
            summary["failed"] += 1
        else:
            d.next_attempt_at = now + dt.timedelta(seconds=delay)
            next_retry = delay if next_retry is None else min(next_retry, delay)
            summary["retry"] += 1
    with transaction.atomic():
        if succeeded:
            recorded = _mark_delivered(succeeded, now=now)
            for o in succeeded:
                if o.delivery_id in recorded:
                    attempts.append(_attempt_row(o))
                    ok_endpoints.add(o.endpoint_id)
                    summary["delivered"] += 1
        _insert_attempts(attempts)
        _save_deliveries(updates)
        if ok_endpoints:
            _clear_failing(ok_endpoints)
        still_failing = failed_endpoints - ok_endpoints
        if still_failing:
            WebhookEndpoint.objects.filter(pk__in=still_failing, failing_since__isnull=True).update(failing_since=now)
            cutoff = now - dt.timedelta(seconds=conf.disable_after())
            stale = set(
                WebhookEndpoint.objects.filter(pk__in=still_failing, active=True, failing_since__lte=cutoff).values_list("id", flat=True)
            )
            endpoint_disable(endpoint_ids=stale - gone, reason="failing continuously for 5 days", now=now)
        if gone:
            endpoint_disable(endpoint_ids=gone, reason="receiver answered 410 Gone", now=now)
    summary["next_retry_in"] = next_retry
    return summary


def _attempt_row(o: HttpOutcome) -> tuple[Any, ...]:
    return (o.delivery_id, o.attempted_at, o.status, o.latency_ms, o.error[:255], o.error_code[:32], o.excerpt[:500])


def _mark_delivered(outcomes: list[HttpOutcome], *, now: dt.datetime) -> set[int]:
    """Settle the 2xx outcomes whose delivery is still pending, in one statement (attempts
    counted in SQL, so nothing is read first). Returns the ids it settled."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE notices_noticedelivery delivery SET state = 'delivered', attempts = delivery.attempts + 1, "
            "last_status = outcome.status, last_error = '', last_error_code = '', lease_until = NULL, delivered_at = %s, "
            "next_attempt_at = NULL "
            "FROM unnest(%s::bigint[], %s::int[]) AS outcome(id, status) "
            "WHERE delivery.id = outcome.id AND delivery.state = 'pending' RETURNING delivery.id",
            [now, [o.delivery_id for o in outcomes], [o.status for o in outcomes]],
        )
        return {row[0] for row in cursor.fetchall()}


def _clear_failing(endpoint_ids: set[int]) -> None:
    """The endpoints that answered are no longer failing. One array parameter rather than an IN
    list of 500 (Django's ``pk__in``): the statement is short to build, send and parse, and the
    partial index of failing endpoints answers it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE notices_webhookendpoint SET failing_since = NULL WHERE failing_since IS NOT NULL AND id = ANY(%s::bigint[])",
            [sorted(endpoint_ids)],
        )


_ATTEMPT_COLUMNS = ("delivery_id", "attempted_at", "status_code", "latency_ms", "error", "error_code", "response_excerpt")


def _insert_attempts(rows: list[tuple[Any, ...]]) -> None:
    """COPY: one round trip for a batch's attempts."""
    if not rows:
        return
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY notices_deliveryattempt ({', '.join(_ATTEMPT_COLUMNS)}) FROM STDIN") as copy,
    ):
        for r in rows:
            copy.write_row(r)


def _save_deliveries(rows: list[_Next]) -> None:
    """One UPDATE ... FROM unnest(arrays) (bulk_update's CASE per row is ~10x slower). Every
    recorded delivery gives up its lease."""
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE notices_noticedelivery delivery SET state = next.state, attempts = next.attempts, "
            "last_status = next.last_status, last_error = next.last_error, last_error_code = next.last_error_code, "
            "lease_until = NULL, delivered_at = next.delivered_at, failed_at = next.failed_at, next_attempt_at = next.next_attempt_at "
            "FROM unnest(%s::bigint[], %s::text[], %s::int[], %s::int[], %s::text[], %s::text[], %s::timestamptz[], "
            "%s::timestamptz[], %s::timestamptz[]) "
            "AS next(id, state, attempts, last_status, last_error, last_error_code, delivered_at, failed_at, next_attempt_at) "
            "WHERE delivery.id = next.id",
            [
                [d.id for d in rows],
                [d.state for d in rows],
                [d.attempts for d in rows],
                [d.last_status for d in rows],
                [d.last_error for d in rows],
                [d.last_error_code for d in rows],
                [d.delivered_at for d in rows],
                [d.failed_at for d in rows],
                [d.next_attempt_at for d in rows],
            ],
        )


def deliver(delivery_ids: Sequence[int] | None = None, *, limit: int | None = None) -> dict[str, Any]:
    """Claim, send and record one batch. With ``delivery_ids`` None, take any due deliveries."""
    requests = claim_requests(delivery_ids, now=timezone.now(), limit=limit)
    if not requests:
        return {"claimed": 0, "delivered": 0, "retry": 0, "failed": 0, "next_retry_in": None}
    outcomes = transport.send(requests, concurrency=conf.http_concurrency(), timeout=conf.http_timeout())
    summary = record(outcomes, now=timezone.now())
    summary["claimed"] = len(requests)
    return summary


def due_delivery_ids(*, limit: int) -> list[int]:
    """Pending deliveries whose time has come and whose lease (if any) has expired."""
    now = timezone.now()
    qs = NoticeDelivery.objects.filter(state=NoticeDelivery.State.PENDING, next_attempt_at__lte=now).exclude(lease_until__gt=now)
    return list(qs.order_by("id").values_list("id", flat=True)[:limit])


__all__ = ["DeliveryError", "build_requests", "claim_requests", "deliver", "due_delivery_ids", "record", "retry_delay"]
