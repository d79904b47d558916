"""Change notices: webhook endpoints, the outbox written when a release is published, item
usage, acknowledgements and replays (every write of the notices feature lives here).

The HTTP side (claiming, signing, sending, recording attempts) is in ``delivery.py``.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import secrets
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.db import connection, transaction
from django.utils import timezone

from apps.catalog.models import CatalogRelease
from apps.core.errors import Conflict, NotFound, ValidationFailed
from apps.core.history import history_bulk_record

from . import conf
from .models import ChangeNotice, Hospital, ItemUsage, NoticeDelivery, ReleaseAcknowledgement, WebhookEndpoint

EVENT_RELEASE_PUBLISHED = ChangeNotice.EventType.RELEASE_PUBLISHED.value


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _validate_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationFailed("the webhook URL must be an absolute http(s) URL", errors=[{"field": "url", "code": "invalid_url"}])
    if parts.scheme == "http":
        host = parts.hostname
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not (loopback and conf.allow_http_loopback()):
            raise ValidationFailed(
                f"webhook URL {url}: http:// is accepted only for loopback hosts outside production; use https://",
                errors=[{"field": "url", "code": "insecure_url"}],
            )


def endpoint_create(*, hospital: Hospital, url: str, event_types: Sequence[str] = (), user: Any = None) -> tuple[WebhookEndpoint, str]:
    """Register a webhook endpoint; returns it with its secret, which is shown this once.

    Raises ValidationFailed (``invalid_url``, ``insecure_url``, ``unknown_event_type``).
    """
    _validate_url(url)
    unknown = sorted(set(event_types) - set(ChangeNotice.EventType.values))
    if unknown:
        raise ValidationFailed(
            f"unknown event types: {', '.join(unknown)}", errors=[{"field": "event_types", "code": "unknown_event_type"}]
        )
    secret = new_webhook_secret()
    endpoint = WebhookEndpoint(hospital=hospital, url=url, secret=secret, event_types=list(event_types))
    endpoint._history_user = user if getattr(user, "pk", None) else None  # type: ignore[attr-defined]
    endpoint._change_reason = "endpoint registered"  # type: ignore[attr-defined]
    with transaction.atomic():
        endpoint.save()
    return endpoint, secret


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, user: Any = None, overlap_seconds: float | None = None) -> str:
    """Give the endpoint a new secret (returned, shown once). The old one keeps signing, next to
    the new one, for ``overlap_seconds`` (default NOTICE_SECRET_OVERLAP) so receivers can switch."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    overlap = conf.secret_overlap() if overlap_seconds is None else overlap_seconds
    secret = new_webhook_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + dt.timedelta(seconds=overlap)
    endpoint.secret = secret
    endpoint._history_user = user if getattr(user, "pk", None) else None  # type: ignore[attr-defined]
    endpoint._change_reason = "secret rotated"  # type: ignore[attr-defined]
    endpoint.save()
    return secret


@transaction.atomic
def endpoint_enable(*, endpoint: WebhookEndpoint, user: Any = None) -> WebhookEndpoint:
    """Re-enable a disabled endpoint (e.g. after the hospital fixed it); failed deliveries stay
    failed until replayed."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.active = True
    endpoint.disabled_reason = ""
    endpoint.disabled_at = None
    endpoint.failing_since = None
    endpoint._history_user = user if getattr(user, "pk", None) else None  # type: ignore[attr-defined]
    endpoint._change_reason = "endpoint re-enabled"  # type: ignore[attr-defined]
    endpoint.save()
    return endpoint


def endpoint_disable(*, endpoint_ids: Iterable[int], reason: str, now: dt.datetime) -> int:
    """Disable endpoints (410 Gone, 5 days failing) and fail their pending deliveries, so nothing
    waits forever on an endpoint no one will call. Runs inside the caller's transaction."""
    ids = sorted(set(endpoint_ids))
    if not ids:
        return 0
    count = 0
    # Few endpoints are disabled at once: saving each records history without the secrets.
    for endpoint in WebhookEndpoint.objects.select_for_update().filter(pk__in=ids, active=True).order_by("pk"):
        endpoint.active, endpoint.disabled_reason, endpoint.disabled_at = False, reason[:255], now
        endpoint._history_user = None  # type: ignore[attr-defined]
        endpoint._change_reason = f"disabled: {reason}"[:100]  # type: ignore[attr-defined]
        endpoint.save(update_fields=["active", "disabled_reason", "disabled_at"])
        count += 1
    NoticeDelivery.objects.filter(endpoint_id__in=ids, state=NoticeDelivery.State.PENDING).update(
        state=NoticeDelivery.State.FAILED,
        failed_at=now,
        lease_until=None,
        next_attempt_at=None,
        last_error=f"endpoint disabled: {reason}"[:255],
    )
    return count


# --- the outbox ---------------------------------------------------------------------------


def notices_create_for_release(*, release: CatalogRelease) -> int:
    """Write one ChangeNotice per active hospital for a just-published release, and one pending
    NoticeDelivery per active endpoint subscribed to the event, set-based (no per-row saves).

    Must run inside the publishing transaction (it is connected to ``release_publishing``): the
    per-hospital counter rows are locked until commit, so concurrent publishes get consecutive
    ``seq`` values with no gap. Delivery is scheduled on commit. Returns the number of notices.
    """
    now = timezone.now()
    q = connection.ops.quote_name
    counter, notice, hospital = (q("hospitals_noticecounter"), q("hospitals_changenotice"), q("hospitals_hospital"))
    with connection.cursor() as cursor:
        # Locks are taken in hospital-id order so two publishes cannot deadlock.
        cursor.execute(
            f"INSERT INTO {counter} (hospital_id, last_seq, last_release_id) "
            f"SELECT h.id, 1, %s FROM {hospital} h WHERE h.active AND NOT EXISTS "
            f"(SELECT 1 FROM {notice} n WHERE n.hospital_id = h.id AND n.release_id = %s AND n.event_type = %s) ORDER BY h.id "
            f"ON CONFLICT (hospital_id) DO UPDATE SET last_seq = {counter}.last_seq + 1, last_release_id = excluded.last_release_id",
            [release.pk, release.pk, EVENT_RELEASE_PUBLISHED],
        )
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""INSERT INTO {notice} (hospital_id, seq, event_type, release_id, webhook_id, affected_items, created_at)
                SELECT c.hospital_id, c.last_seq, %s, %s, 'msg_' || c.hospital_id || '_' || c.last_seq, a.items, %s
                FROM {counter} c
                LEFT JOIN (
                    SELECT u.hospital_id,
                           COALESCE(jsonb_agg(jsonb_build_object('code', rc.code, 'change', rc.change, 'fields', rc.fields,
                                                                 'successors', rc.successors) ORDER BY rc.code)
                                    FILTER (WHERE rc.code IS NOT NULL), '[]'::jsonb) AS items
                    FROM hospitals_itemusage u
                    LEFT JOIN catalog_releasechange rc
                           ON rc.release_id = %s AND rc.code = u.code AND rc.change IN ('changed', 'retired', 'removed')
                    GROUP BY u.hospital_id
                ) a ON a.hospital_id = c.hospital_id
                WHERE c.last_release_id = %s""",
                [EVENT_RELEASE_PUBLISHED, release.pk, now, release.pk, release.pk],
            )
            subscribed = "(jsonb_array_length(e.event_types) = 0 OR e.event_types @> to_jsonb(ARRAY[%s]::text[]))"
        else:
            cursor.execute(
                f"INSERT INTO {notice} (hospital_id, seq, event_type, release_id, webhook_id, created_at) "
                f"SELECT c.hospital_id, c.last_seq, %s, %s, 'msg_' || c.hospital_id || '_' || c.last_seq, %s "
                f"FROM {counter} c WHERE c.last_release_id = %s",
                [EVENT_RELEASE_PUBLISHED, release.pk, now, release.pk],
            )
            subscribed = "(e.event_types = '[]' OR instr(e.event_types, '\"' || %s || '\"') > 0)"
        created = int(cursor.rowcount)
        cursor.execute(
            f"INSERT INTO hospitals_noticedelivery (notice_id, endpoint_id, state, attempts, next_attempt_at, last_error, created_at) "
            f"SELECT n.id, e.id, 'pending', 0, %s, '', %s FROM {notice} n "
            f"JOIN hospitals_webhookendpoint e ON e.hospital_id = n.hospital_id AND e.active "
            f"WHERE n.release_id = %s AND n.event_type = %s AND {subscribed}",
            [now, now, release.pk, EVENT_RELEASE_PUBLISHED, EVENT_RELEASE_PUBLISHED],
        )
    if connection.vendor != "postgresql":
        _affected_items_in_python(release=release)
    transaction.on_commit(lambda: deliveries_dispatch_for_release(release_id=release.pk))
    return created


def _affected_items_in_python(*, release: CatalogRelease) -> None:
    """SQLite (demo) fallback for the affected-items JSON the PostgreSQL path builds in SQL."""
    from apps.catalog.models import ReleaseChange

    changes = {
        c["code"]: c
        for c in ReleaseChange.objects.filter(release=release, change__in=["changed", "retired", "removed"]).values(
            "code", "change", "fields", "successors"
        )
    }
    usage: dict[int, list[str]] = {}
    for hospital_id, code in ItemUsage.objects.values_list("hospital_id", "code").order_by("hospital_id", "code"):
        usage.setdefault(hospital_id, []).append(code)
    for hospital_id, codes in usage.items():
        items = [changes[c] for c in codes if c in changes]
        ChangeNotice.objects.filter(hospital_id=hospital_id, release=release).update(affected_items=items)


def deliveries_dispatch(delivery_ids: Sequence[int]) -> int:
    """Queue deliveries: one broker message per NOTICE_BATCH_SIZE deliveries. Returns messages sent."""
    from .tasks import deliver_batch

    size = conf.batch_size()
    ids = sorted(delivery_ids)
    messages = 0
    for start in range(0, len(ids), size):
        deliver_batch.delay(ids[start : start + size])
        messages += 1
    return messages


def deliveries_dispatch_for_release(*, release_id: int) -> int:
    ids = list(
        NoticeDelivery.objects.filter(notice__release_id=release_id, state=NoticeDelivery.State.PENDING).values_list("id", flat=True)
    )
    return deliveries_dispatch(ids)


@transaction.atomic
def deliveries_replay(*, delivery_ids: Iterable[int], user: Any, hospital_id: int | None = None) -> int:
    """Put failed (or delivered) deliveries back in the queue for a fresh round of attempts.

    Staff replay any delivery; ``hospital_id`` restricts to that hospital's. Raises Conflict
    ``endpoint_disabled`` when an endpoint is disabled (re-enable it first). Returns the count.
    """
    qs = NoticeDelivery.objects.filter(pk__in=list(delivery_ids)).exclude(state=NoticeDelivery.State.PENDING)
    if hospital_id is not None:
        qs = qs.filter(notice__hospital_id=hospital_id)
    ids = sorted(qs.values_list("id", flat=True))
    if not ids:
        return 0
    disabled = list(
        WebhookEndpoint.objects.filter(deliveries__id__in=ids, active=False).values_list("url", flat=True).distinct().order_by("url")[:5]
    )
    if disabled:
        raise Conflict(f"endpoint disabled, re-enable it before replaying: {', '.join(disabled)}", code="endpoint_disabled")
    now = timezone.now()
    count = NoticeDelivery.objects.filter(pk__in=ids).update(
        state=NoticeDelivery.State.PENDING, attempts=0, next_attempt_at=now, lease_until=None, failed_at=None, last_error=""
    )
    history_bulk_record(
        model=NoticeDelivery,
        where_sql=f"id IN ({', '.join(['%s'] * len(ids))})",
        params=ids,
        history_type="~",
        user_id=getattr(user, "pk", None),
        reason="replayed",
    )
    transaction.on_commit(lambda: deliveries_dispatch(ids))
    return count


# --- hospital-side writes ----------------------------------------------------------------


@transaction.atomic
def release_acknowledge(
    *, hospital_id: int, label: str, loaded_at: dt.datetime | None = None, items_count: int | None = None
) -> tuple[ReleaseAcknowledgement, bool]:
    """Record "we loaded release LABEL". Idempotent: a repeated ack returns the first one
    (created=False) unchanged. Raises NotFound ``release_unknown`` for unknown or unpublished labels."""
    release = CatalogRelease.objects.filter(label=label, status=CatalogRelease.Status.PUBLISHED).first()
    if release is None:
        raise NotFound(f"no published release {label}", code="release_unknown")
    existing = ReleaseAcknowledgement.objects.filter(hospital_id=hospital_id, release=release).first()
    if existing is not None:
        return existing, False
    ack = ReleaseAcknowledgement(hospital_id=hospital_id, release=release, loaded_at=loaded_at or timezone.now(), items_count=items_count)
    # The caller is a hospital principal, not a user: history records no user.
    ack._history_user = None  # type: ignore[attr-defined]
    ack._change_reason = "acknowledged by hospital"  # type: ignore[attr-defined]
    ack.save()
    return ack, True


@transaction.atomic
def item_usage_replace(*, hospital_id: int, codes: Iterable[str]) -> int:
    """Replace the hospital's reported item usage with ``codes`` (trimmed, de-duplicated).
    Raises ValidationFailed ``code_format`` naming each bad entry."""
    cleaned: dict[str, None] = {}
    errors = []
    for index, raw in enumerate(codes, start=1):
        code = str(raw).strip().upper()
        if not code or len(code) > 32:
            errors.append({"line": index, "field": "codes", "code": "code_format", "message": f"code {raw!r} is empty or longer than 32"})
            continue
        cleaned[code] = None
    if errors:
        raise ValidationFailed(f"{len(errors)} bad codes", errors=errors)
    now = timezone.now()
    ItemUsage.objects.filter(hospital_id=hospital_id).delete()
    ItemUsage.objects.bulk_create([ItemUsage(hospital_id=hospital_id, code=c, reported_at=now) for c in cleaned], batch_size=5000)
    return len(cleaned)
