"""Sending change notices: claim a batch of due deliveries, sign each body (Standard Webhooks),
POST them concurrently through the process's keep-alive libcurl client, record every attempt and decide what
happens next (delivered, retry with jittered back-off, failed, endpoint disabled).

At-least-once: a batch is claimed with a lease; a worker killed mid-batch leaves the lease to
expire and the rows are claimed again (by the redelivered acks_late message or the sweep), so
a receiver may see a message twice and dedupes by ``webhook-id``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import certifi
import pycurl
from django.db import connection, transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from apps.catalog.models import CatalogRelease

from . import conf
from .models import ChangeNotice, DeliveryAttempt, NoticeDelivery, WebhookEndpoint
from .notices import endpoint_disable

RETRYABLE_4XX = frozenset({408, 425, 429})
USER_AGENT = "catalog-portal-notices/1"


@dataclass
class Outgoing:
    delivery_id: int
    endpoint_id: int
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Outcome:
    delivery_id: int
    endpoint_id: int
    attempted_at: dt.datetime
    status: int | None
    latency_ms: int
    error: str = ""
    excerpt: str = ""
    retry_after: float | None = None


# --- payload and signature ---------------------------------------------------------------


def release_payload(release: CatalogRelease) -> dict[str, Any]:
    base = conf_base_url()
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


def conf_base_url() -> str:
    return str(conf._setting("PORTAL_BASE_URL", "http://127.0.0.1:8000", str)).rstrip("/")


def notice_body(*, notice: dict[str, Any], release_part: dict[str, Any], diff_counts: dict[str, Any]) -> dict[str, Any]:
    """The webhook body (API.md) for one notice; the pull endpoint returns the same dict."""
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
    return body


def sign(*, secrets: Sequence[str], msg_id: str, timestamp: dt.datetime, body: str) -> str:
    """``webhook-signature`` value: one ``v1,<base64>`` per live secret, space-separated."""
    return " ".join(Webhook(s).sign(msg_id, timestamp, body) for s in secrets if s)


def signing_secrets(endpoint: dict[str, Any], now: dt.datetime) -> list[str]:
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


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return (when - now).total_seconds()


# --- one batch ---------------------------------------------------------------------------


def claim(delivery_ids: Sequence[int] | None, *, now: dt.datetime, limit: int | None = None) -> list[int]:
    """Lease the given (or, with None, any) due pending deliveries nobody holds. SKIP LOCKED
    lets two workers share a backlog without waiting on each other."""
    lease = now + dt.timedelta(seconds=conf.lease_seconds())
    with transaction.atomic():
        qs = NoticeDelivery.objects.filter(state=NoticeDelivery.State.PENDING, next_attempt_at__lte=now).exclude(lease_until__gt=now)
        if delivery_ids is not None:
            qs = qs.filter(pk__in=list(delivery_ids))
        qs = qs.order_by("id").select_for_update(skip_locked=True, of=("self",))
        ids = list(qs.values_list("id", flat=True)[:limit] if limit else qs.values_list("id", flat=True))
        if ids:
            NoticeDelivery.objects.filter(pk__in=ids).update(lease_until=lease)
    return ids


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
)

# One round trip on PostgreSQL: lease the due rows (SKIP LOCKED, as ``claim``) and return
# everything a signed request needs. Column order is _REQUEST_COLUMNS.
_CLAIM_SQL = """
WITH due AS (
    SELECT d.id FROM hospitals_noticedelivery d
    WHERE d.state = 'pending' AND d.next_attempt_at <= %(now)s AND (d.lease_until IS NULL OR d.lease_until <= %(now)s)
      AND (%(ids)s::bigint[] IS NULL OR d.id = ANY(%(ids)s::bigint[]))
    ORDER BY d.id
    LIMIT %(limit)s
    FOR UPDATE OF d SKIP LOCKED
), leased AS (
    UPDATE hospitals_noticedelivery d SET lease_until = %(lease)s FROM due WHERE d.id = due.id
    RETURNING d.id, d.endpoint_id, d.notice_id
)
SELECT l.id, l.endpoint_id, e.url, e.secret, e.previous_secret, e.previous_secret_expires_at,
       n.event_type, n.webhook_id, n.seq, n.affected_items, n.release_id, h.code
FROM leased l
JOIN hospitals_webhookendpoint e ON e.id = l.endpoint_id
JOIN hospitals_changenotice n ON n.id = l.notice_id
JOIN hospitals_hospital h ON h.id = n.hospital_id
ORDER BY l.id
"""


def claim_requests(delivery_ids: Sequence[int] | None, *, now: dt.datetime, limit: int | None = None) -> list[Outgoing]:
    """``claim`` then ``build_requests``: the signed requests of the deliveries this worker now
    holds. On PostgreSQL the lease and the read are one statement (one round trip per batch)."""
    if connection.vendor != "postgresql":
        return build_requests(claim(delivery_ids, now=now, limit=limit), now=now)
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


def build_requests(delivery_ids: Sequence[int], *, now: dt.datetime) -> list[Outgoing]:
    """The signed requests for these deliveries (no lease taken)."""
    rows = list(NoticeDelivery.objects.filter(pk__in=list(delivery_ids)).order_by("id").values(*_REQUEST_COLUMNS))
    return _signed(rows, now=now)


def _signed(rows: list[dict[str, Any]], *, now: dt.datetime) -> list[Outgoing]:
    releases: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
    for release in CatalogRelease.objects.filter(pk__in={r["notice__release_id"] for r in rows}):
        releases[release.pk] = (release_payload(release), release.diff_counts or {})
    signers: dict[tuple[str, ...], list[Webhook]] = {}
    timestamp = dt.datetime.fromtimestamp(int(now.timestamp()), tz=dt.UTC)
    out = []
    for r in rows:
        release_part, diff_counts = releases[r["notice__release_id"]]
        notice: dict[str, Any] = {
            "event_type": r["notice__event_type"],
            "webhook_id": r["notice__webhook_id"],
            "seq": r["notice__seq"],
            "hospital_code": r["notice__hospital__code"],
            "affected_items": r["notice__affected_items"],
        }
        body = json.dumps(
            notice_body(notice=notice, release_part=release_part, diff_counts=diff_counts), ensure_ascii=False, separators=(",", ":")
        )
        keys = tuple(
            signing_secrets(
                {
                    "secret": r["endpoint__secret"],
                    "previous_secret": r["endpoint__previous_secret"],
                    "previous_secret_expires_at": r["endpoint__previous_secret_expires_at"],
                },
                now,
            )
        )
        if keys not in signers:
            signers[keys] = [Webhook(k) for k in keys]
        signature = " ".join(w.sign(notice["webhook_id"], timestamp, body) for w in signers[keys])
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": notice["webhook_id"],
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": signature,
        }
        out.append(Outgoing(r["id"], r["endpoint_id"], r["endpoint__url"], headers, body.encode()))
    return out


class _Sender:
    """The process's HTTP client for notices: one libcurl multi handle driving up to
    ``concurrency`` transfers at once, kept across batches so a batch reuses the keep-alive
    connections of the one before (libcurl keeps them in the multi handle's connection cache).

    libcurl (pycurl) rather than an asyncio client: the transfers run in C, so a request costs
    the worker about half the CPU of aiohttp's (benchmarks/fanout.py), and the CPU of the worker
    processes is what a 10,000-hospital publish waits for. Re-created after a fork (prefork
    workers) or when the concurrency setting changes; one batch at a time per process."""

    _lock = threading.Lock()
    _current: _Sender | None = None

    def __init__(self, concurrency: int) -> None:
        self.pid = os.getpid()
        self.concurrency = concurrency
        self.multi = pycurl.CurlMulti()
        self.multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, concurrency)
        self.idle = [self._handle() for _ in range(concurrency)]

    @staticmethod
    def _handle() -> Any:
        handle = pycurl.Curl()
        handle.setopt(pycurl.NOSIGNAL, 1)  # timeouts without SIGALRM (worker threads)
        handle.setopt(pycurl.FOLLOWLOCATION, 0)  # a redirect is an answer, not a new target
        handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        handle.setopt(pycurl.CAINFO, certifi.where())
        handle.setopt(pycurl.USERAGENT, USER_AGENT)
        handle.setopt(pycurl.POST, 1)
        return handle

    def _start(self, handle: Any, req: Outgoing, timeout: float) -> _Transfer:
        transfer = _Transfer(req, timezone.now())
        handle.setopt(pycurl.URL, req.url)
        handle.setopt(pycurl.POSTFIELDS, req.body)
        # "Expect:" stops libcurl from waiting for a 100 Continue before sending a body over 1 KiB.
        handle.setopt(pycurl.HTTPHEADER, [f"{k}: {v}" for k, v in req.headers.items() if k != "user-agent"] + ["Expect:"])
        handle.setopt(pycurl.WRITEFUNCTION, transfer.body)
        handle.setopt(pycurl.HEADERFUNCTION, transfer.header)
        handle.setopt(pycurl.TIMEOUT_MS, max(int(timeout * 1000), 1))
        handle.setopt(pycurl.CONNECTTIMEOUT_MS, max(int(min(timeout, 5.0) * 1000), 1))
        handle.transfer = transfer
        self.multi.add_handle(handle)
        return transfer

    def send(self, requests: Sequence[Outgoing], *, timeout: float) -> list[Outcome]:
        outcomes: dict[int, Outcome] = {}
        waiting = list(reversed(range(len(requests))))
        running: list[Any] = []

        def finish(handle: Any, outcome: Outcome, index: int) -> None:
            self.multi.remove_handle(handle)
            running.remove(handle)
            self.idle.append(handle)
            outcomes[index] = outcome

        with self._lock:
            try:
                while waiting or running:
                    while waiting and self.idle:
                        handle = self.idle.pop()
                        index = waiting.pop()
                        self._start(handle, requests[index], timeout)
                        handle.index = index
                        running.append(handle)
                    while self.multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
                        pass
                    while True:
                        queued, succeeded, failed = self.multi.info_read()
                        for handle in succeeded:
                            finish(handle, handle.transfer.answered(handle.getinfo(pycurl.RESPONSE_CODE), _ms_of(handle)), handle.index)
                        for handle, errno, message in failed:
                            finish(handle, handle.transfer.failed(errno, message, _ms_of(handle)), handle.index)
                        if not queued:
                            break
                    if running:
                        # Wait for a socket, but no longer than libcurl's next timer (-1: none set).
                        due_ms = self.multi.timeout()
                        self.multi.select(0.5 if due_ms < 0 else min(due_ms / 1000, 0.5))
            finally:
                for handle in running:  # an exception mid-batch: leave the multi handle clean
                    self.multi.remove_handle(handle)
                    self.idle.append(handle)
        return [outcomes[i] for i in range(len(requests))]

    @classmethod
    def get(cls, concurrency: int) -> _Sender:
        with cls._lock:
            sender = cls._current
            if sender is None or sender.pid != os.getpid() or sender.concurrency != concurrency:
                sender = cls._current = cls(concurrency)
            return sender


class _Transfer:
    """One request in flight: the start time, the first 500 bytes of the answer, Retry-After."""

    __slots__ = ("attempted_at", "excerpt", "req", "retry_after_header")

    def __init__(self, req: Outgoing, attempted_at: dt.datetime) -> None:
        self.req = req
        self.attempted_at = attempted_at
        self.excerpt = bytearray()
        self.retry_after_header: str | None = None

    def body(self, chunk: bytes) -> None:
        if len(self.excerpt) < 500:
            self.excerpt += chunk[: 500 - len(self.excerpt)]

    def header(self, line: bytes) -> None:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() == b"retry-after":
            self.retry_after_header = value.strip().decode("latin-1")
        elif line.startswith(b"HTTP/"):  # a new response (after a 1xx): forget the previous one's headers
            self.retry_after_header = None

    def answered(self, status: int, latency_ms: int) -> Outcome:
        return Outcome(
            self.req.delivery_id,
            self.req.endpoint_id,
            self.attempted_at,
            status,
            latency_ms,
            excerpt=self.excerpt.decode("utf-8", "replace"),
            retry_after=parse_retry_after(self.retry_after_header, self.attempted_at),
        )

    def failed(self, errno: int, message: str, latency_ms: int) -> Outcome:
        kind = "timeout" if errno == pycurl.E_OPERATION_TIMEDOUT else f"curl error {errno}"
        return Outcome(self.req.delivery_id, self.req.endpoint_id, self.attempted_at, None, latency_ms, f"{kind}: {message}"[:255])


def _ms_of(handle: Any) -> int:
    return int(handle.getinfo(pycurl.TOTAL_TIME) * 1000)


def send(requests: Sequence[Outgoing], *, concurrency: int, timeout: float) -> list[Outcome]:
    """POST the requests (at most ``concurrency`` in flight) through the process's persistent
    client (see ``_Sender``); one Outcome per request, in order."""
    if not requests:
        return []
    return _Sender.get(concurrency).send(requests, timeout=timeout)


@dataclass
class _Next:
    """A delivery's state after an attempt (the columns ``record`` writes back)."""

    id: int
    state: str
    attempts: int
    last_status: int | None = None
    last_error: str = ""
    delivered_at: dt.datetime | None = None
    failed_at: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None


def record(outcomes: Sequence[Outcome], *, now: dt.datetime) -> dict[str, Any]:
    """Write the attempts and each delivery's next state in one transaction; disable endpoints
    that answered 410 or have failed continuously for NOTICE_DISABLE_AFTER. Returns a summary
    with ``next_retry_in`` (seconds to the earliest scheduled retry, or None).

    Only deliveries still pending are recorded (one a replay or a disable settled meanwhile is
    left alone). Set-based: COPY for the attempts, one UPDATE for the successes (no read
    first, on PostgreSQL), one read and one UPDATE for the rest."""
    unique: dict[int, Outcome] = {}
    for o in outcomes:
        unique.setdefault(o.delivery_id, o)  # a delivery id listed twice is recorded once
    fast = connection.vendor == "postgresql"
    succeeded = [o for o in unique.values() if fast and _succeeded(o)]
    others = [o for o in unique.values() if not (fast and _succeeded(o))]
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
        d = _Next(o.delivery_id, NoticeDelivery.State.PENDING, current[o.delivery_id] + 1, o.status, o.error[:255])
        updates.append(d)
        if _succeeded(o):
            d.state, d.delivered_at = NoticeDelivery.State.DELIVERED, now
            ok_endpoints.add(o.endpoint_id)
            summary["delivered"] += 1
            continue
        failed_endpoints.add(o.endpoint_id)
        retryable = o.status is None or o.status >= 500 or o.status in RETRYABLE_4XX
        delay = retry_delay(attempts_made=d.attempts, retry_after=o.retry_after) if retryable else None
        if o.status == 410:
            gone.add(o.endpoint_id)
            delay = None
            d.last_error = "410 Gone: endpoint disabled"
        if delay is None:
            d.state, d.failed_at = NoticeDelivery.State.FAILED, now
            if not d.last_error:
                d.last_error = f"HTTP {o.status}" + ("" if retryable else " (not retried)")
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
            WebhookEndpoint.objects.filter(pk__in=ok_endpoints, failing_since__isnull=False).update(failing_since=None)
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


def _succeeded(o: Outcome) -> bool:
    return o.status is not None and 200 <= o.status < 300


def _attempt_row(o: Outcome) -> tuple[Any, ...]:
    return (o.delivery_id, o.attempted_at, o.status, o.latency_ms, o.error[:255], o.excerpt[:500])


def _mark_delivered(outcomes: list[Outcome], *, now: dt.datetime) -> set[int]:
    """PostgreSQL: settle the 2xx outcomes whose delivery is still pending, in one statement
    (attempts counted in SQL, so nothing is read first). Returns the ids it settled."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE hospitals_noticedelivery d SET state = 'delivered', attempts = d.attempts + 1, last_status = v.status, "
            "last_error = v.error, lease_until = NULL, delivered_at = %s, next_attempt_at = NULL "
            "FROM unnest(%s::bigint[], %s::int[], %s::text[]) AS v(id, status, error) "
            "WHERE d.id = v.id AND d.state = 'pending' RETURNING d.id",
            [now, [o.delivery_id for o in outcomes], [o.status for o in outcomes], [o.error[:255] for o in outcomes]],
        )
        return {row[0] for row in cursor.fetchall()}


_ATTEMPT_COLUMNS = ("delivery_id", "attempted_at", "status_code", "latency_ms", "error", "response_excerpt")


def _insert_attempts(rows: list[tuple[Any, ...]]) -> None:
    """COPY on PostgreSQL (one round trip for a batch); bulk_create elsewhere (the SQLite demo)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        DeliveryAttempt.objects.bulk_create([DeliveryAttempt(**dict(zip(_ATTEMPT_COLUMNS, r, strict=True))) for r in rows], batch_size=500)
        return
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY hospitals_deliveryattempt ({', '.join(_ATTEMPT_COLUMNS)}) FROM STDIN") as copy,
    ):
        for r in rows:
            copy.write_row(r)


_DELIVERY_FIELDS = ["state", "attempts", "last_status", "last_error", "lease_until", "delivered_at", "failed_at", "next_attempt_at"]


def _save_deliveries(rows: list[_Next]) -> None:
    """One UPDATE ... FROM unnest(arrays) on PostgreSQL (bulk_update's CASE per row is ~10x slower).
    Every recorded delivery gives up its lease."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        objs = [
            NoticeDelivery(
                pk=d.id,
                state=d.state,
                attempts=d.attempts,
                last_status=d.last_status,
                last_error=d.last_error,
                lease_until=None,
                delivered_at=d.delivered_at,
                failed_at=d.failed_at,
                next_attempt_at=d.next_attempt_at,
            )
            for d in rows
        ]
        NoticeDelivery.objects.bulk_update(objs, _DELIVERY_FIELDS, batch_size=500)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE hospitals_noticedelivery d SET state = v.state, attempts = v.attempts, last_status = v.last_status, "
            "last_error = v.last_error, lease_until = NULL, delivered_at = v.delivered_at, failed_at = v.failed_at, "
            "next_attempt_at = v.next_attempt_at "
            "FROM unnest(%s::bigint[], %s::text[], %s::int[], %s::int[], %s::text[], %s::timestamptz[], %s::timestamptz[], "
            "%s::timestamptz[]) AS v(id, state, attempts, last_status, last_error, delivered_at, failed_at, next_attempt_at) "
            "WHERE d.id = v.id",
            [
                [d.id for d in rows],
                [d.state for d in rows],
                [d.attempts for d in rows],
                [d.last_status for d in rows],
                [d.last_error for d in rows],
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
    outcomes = send(requests, concurrency=conf.http_concurrency(), timeout=conf.http_timeout())
    summary = record(outcomes, now=timezone.now())
    summary["claimed"] = len(requests)
    return summary


def due_delivery_ids(*, limit: int) -> list[int]:
    """Pending deliveries whose time has come and whose lease (if any) has expired."""
    now = timezone.now()
    qs = NoticeDelivery.objects.filter(state=NoticeDelivery.State.PENDING, next_attempt_at__lte=now).exclude(lease_until__gt=now)
    return list(qs.order_by("id").values_list("id", flat=True)[:limit])


def notice_rows(qs: Any) -> list[dict[str, Any]]:
    """ChangeNotice queryset → webhook bodies (for the pull API)."""
    rows = list(qs.values("id", "event_type", "webhook_id", "seq", "affected_items", "release_id", "hospital__code", "created_at"))
    releases = {r.pk: r for r in CatalogRelease.objects.filter(pk__in={row["release_id"] for row in rows})}
    parts = {pk: (release_payload(r), r.diff_counts or {}) for pk, r in releases.items()}
    out = []
    for row in rows:
        part, counts = parts[row["release_id"]]
        row["hospital_code"] = row.pop("hospital__code")
        out.append({"row": row, "body": notice_body(notice=row, release_part=part, diff_counts=counts)})
    return out


__all__ = ["ChangeNotice", "deliver", "due_delivery_ids", "notice_rows", "record", "retry_delay", "sign"]
