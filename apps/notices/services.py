"""Change notices: every write of the feature — webhook endpoints (register, change, delete,
rotate, enable/disable, test ping), the outbox written when a release is published, replays,
acknowledgements and item usage.

Recording delivery attempts is ``delivery``'s; signing and sending is ``transport``'s.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import CatalogRelease
from apps.core.audit import audit_record, history_save
from apps.core.errors import Conflict, NotFound, ValidationFailed, english
from apps.core.history import history_bulk_record
from apps.core.mail import email_notify, email_notify_each, mail_language
from apps.core.models import AuditAction
from apps.hospitals.models import Hospital

from . import addresses, conf, payloads, transport
from .models import ChangeNotice, DeliveryError, ItemUsage, NoticeDelivery, ReleaseAcknowledgement, WebhookEndpoint

EVENT_RELEASE_PUBLISHED = ChangeNotice.EventType.RELEASE_PUBLISHED.value
REPLAY_MAX_IDS = 1000  # per call: a replay is a repair of a few, not a way to flood the queue


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _url_error(detail: Any, code: str) -> ValidationFailed:
    return ValidationFailed(detail, errors=[{"field": "url", "code": code, "message": english(detail)}])


def _validate_url(url: str) -> None:
    """An absolute http(s) URL whose host is public (or in WEBHOOK_ALLOWED_NETWORKS); http:// only
    to loopback outside production. A name that does not resolve yet is accepted: the check is
    repeated, and decides, at every send."""
    not_a_url = _url_error(_("the webhook URL must be an absolute http(s) URL"), "invalid_url")
    try:
        parts = urlsplit(url)  # raises on a malformed bracketed host ("http://[0]")
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise not_a_url
        parts.port  # noqa: B018  (raises on a port out of range)
        addresses.check_url(url, require_resolvable=False)
    except addresses.AddressRefused as exc:
        raise _url_error(format_lazy(_("webhook URL {url}: {exc}"), url=url, exc=exc), "webhook_url_not_public") from None
    except ValueError:
        raise not_a_url from None
    if parts.scheme == "http":
        # Loopback host: every address it is or resolves to is loopback (127.1, localhost, …).
        try:
            loopback = all(ip.is_loopback for ip in addresses.resolve(*addresses.split_url(url)))
        except addresses.Unresolvable:
            loopback = False
        if not (loopback and conf.allow_http_loopback()):
            raise _url_error(
                format_lazy(_("webhook URL {url}: http:// is accepted only for loopback hosts outside production; use https://"), url=url),
                "insecure_url",
            )


def _validate_event_types(event_types: Sequence[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(ChangeNotice.EventType.values))
    if unknown:
        raise ValidationFailed(
            format_lazy(_("unknown event types: {names}"), names=", ".join(unknown)),
            errors=[{"field": "event_types", "code": "unknown_event_type"}],
        )
    return list(event_types)


def _save_endpoint(
    endpoint: WebhookEndpoint, *, user: Any, action: AuditAction, reason: str, update_fields: Sequence[str] | None = None
) -> None:
    """Save an endpoint with its history row and its one audit event (secrets never in the detail)."""
    history_save(endpoint, user=user, reason=reason, update_fields=update_fields)
    audit_record(
        action=action,
        actor=user,
        obj=endpoint,
        province=endpoint.hospital.province.code,
        reason=reason,
        detail={"hospital": endpoint.hospital.code, "url": endpoint.url, "active": endpoint.active},
    )


def _live_endpoint(endpoint_id: int) -> WebhookEndpoint:
    """The endpoint row, locked; NotFound once it is deleted."""
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id, deleted_at__isnull=True).first()
    if endpoint is None:
        raise NotFound(format_lazy(_("no webhook endpoint {endpoint_id}"), endpoint_id=endpoint_id), code="not_found")
    return endpoint


@transaction.atomic
def endpoint_create(*, hospital: Hospital, url: str, event_types: Sequence[str] = (), user: Any = None) -> tuple[WebhookEndpoint, str]:
    """Register a webhook endpoint; returns it with its secret, which is shown this once.

    Raises ValidationFailed (``invalid_url``, ``insecure_url``, ``webhook_url_not_public``,
    ``unknown_event_type``); Conflict ``webhook_endpoint_limit`` when the hospital already holds
    WEBHOOK_MAX_ENDPOINTS_PER_HOSPITAL endpoints (deleted ones do not count).
    """
    _validate_url(url)
    types = _validate_event_types(event_types)
    # The hospital row lock serialises concurrent registrations, so the count below holds.
    Hospital.objects.select_for_update().filter(pk=hospital.pk).first()
    limit = conf.max_endpoints_per_hospital()
    if WebhookEndpoint.objects.filter(hospital=hospital, deleted_at__isnull=True).count() >= limit:
        raise Conflict(
            format_lazy(_("hospital {code} already has {limit} webhook endpoints; delete one first"), code=hospital.code, limit=limit),
            code="webhook_endpoint_limit",
        )
    secret = new_webhook_secret()
    endpoint = WebhookEndpoint(hospital=hospital, url=url, secret=secret, event_types=types)
    _save_endpoint(endpoint, user=user, action=AuditAction.ENDPOINT_REGISTERED, reason="endpoint registered")
    return endpoint, secret


@transaction.atomic
def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    active: bool | None = None,
    user: Any = None,
) -> WebhookEndpoint:
    """Change an endpoint's URL, event types or state (hospital self-service, or staff).

    A new URL is checked as at registration and starts a fresh failure count; ``active=False``
    disables it (pending deliveries fail: nobody will call there), ``active=True`` enables it.
    Raises NotFound for a deleted endpoint, ValidationFailed as ``endpoint_create``.
    """
    endpoint = _live_endpoint(endpoint.pk)
    changed: list[str] = []
    if url is not None and url != endpoint.url:
        _validate_url(url)
        endpoint.url, endpoint.failing_since = url, None
        changed.append("url")
    if event_types is not None:
        types = _validate_event_types(event_types)
        if types != endpoint.event_types:
            endpoint.event_types = types
            changed.append("event types")
    now = timezone.now()
    if active is True and not endpoint.active:
        endpoint.active, endpoint.disabled_reason, endpoint.disabled_at, endpoint.failing_since = True, "", None, None
        changed.append("enabled")
    elif active is False and endpoint.active:
        by = "the hospital" if getattr(user, "pk", None) is None else f"staff ({user})"
        endpoint.active, endpoint.disabled_reason, endpoint.disabled_at = False, f"disabled by {by}", now
        changed.append("disabled")
        _fail_pending([endpoint.pk], reason=endpoint.disabled_reason, now=now)
    if changed:
        _save_endpoint(endpoint, user=user, action=AuditAction.ENDPOINT_CHANGED, reason=f"changed: {', '.join(changed)}")
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint, user: Any = None) -> None:
    """Delete an endpoint: it stops receiving (pending deliveries fail) and no longer counts
    toward the limit, but the row stays with its deliveries and attempts for the record."""
    endpoint = _live_endpoint(endpoint.pk)
    now = timezone.now()
    endpoint.active, endpoint.deleted_at = False, now
    endpoint.disabled_reason, endpoint.disabled_at = "deleted", endpoint.disabled_at or now
    _save_endpoint(endpoint, user=user, action=AuditAction.ENDPOINT_DELETED, reason="endpoint deleted")
    _fail_pending([endpoint.pk], reason="deleted", now=now)


@transaction.atomic
def endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, user: Any = None, overlap_seconds: float | None = None, retire_old_now: bool = False
) -> str:
    """Give the endpoint a new secret (returned, shown once). The old one keeps signing, next to
    the new one, for ``overlap_seconds`` (default NOTICE_SECRET_OVERLAP, 24 h) so receivers can
    switch; with ``retire_old_now`` (a leaked secret) it stops signing at once, as does any
    earlier secret still in its overlap. Raises NotFound for a deleted endpoint."""
    endpoint = _live_endpoint(endpoint.pk)
    secret = new_webhook_secret()
    if retire_old_now:
        endpoint.previous_secret, endpoint.previous_secret_expires_at = "", None
    else:
        overlap = conf.secret_overlap() if overlap_seconds is None else overlap_seconds
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = timezone.now() + dt.timedelta(seconds=overlap)
    endpoint.secret = secret
    _save_endpoint(
        endpoint,
        user=user,
        action=AuditAction.ENDPOINT_SECRET_ROTATED,
        reason="secret rotated, old secret retired now" if retire_old_now else "secret rotated",
    )
    return secret


@transaction.atomic
def endpoint_enable(*, endpoint: WebhookEndpoint, user: Any = None) -> WebhookEndpoint:
    """Re-enable a disabled endpoint (e.g. after the hospital fixed it); failed deliveries stay
    failed until replayed. Raises NotFound for a deleted endpoint."""
    endpoint = _live_endpoint(endpoint.pk)
    endpoint.active = True
    endpoint.disabled_reason = ""
    endpoint.disabled_at = None
    endpoint.failing_since = None
    _save_endpoint(endpoint, user=user, action=AuditAction.ENDPOINT_ENABLED, reason="endpoint re-enabled")
    return endpoint


def _fail_pending(endpoint_ids: Sequence[int], *, reason: str, now: dt.datetime) -> None:
    NoticeDelivery.objects.filter(endpoint_id__in=list(endpoint_ids), state=NoticeDelivery.State.PENDING).update(
        state=NoticeDelivery.State.FAILED,
        failed_at=now,
        lease_until=None,
        next_attempt_at=None,
        last_error=f"endpoint disabled: {reason}"[:255],
        last_error_code=DeliveryError.ENDPOINT_DISABLED,
    )


def endpoint_disable(*, endpoint_ids: Iterable[int], reason: str, now: dt.datetime) -> int:
    """Disable endpoints (410 Gone, 5 days failing) and fail their pending deliveries, so nothing
    waits forever on an endpoint no one will call. Runs inside the caller's transaction."""
    ids = sorted(set(endpoint_ids))
    if not ids:
        return 0
    count = 0
    # Few endpoints are disabled at once: saving each records history without the secrets.
    for endpoint in WebhookEndpoint.objects.select_for_update().select_related("hospital").filter(pk__in=ids, active=True).order_by("pk"):
        endpoint.active, endpoint.disabled_reason, endpoint.disabled_at = False, reason[:255], now
        _save_endpoint(
            endpoint,
            user=None,
            action=AuditAction.ENDPOINT_DISABLED,
            reason=f"disabled: {reason}",
            update_fields=["active", "disabled_reason", "disabled_at"],
        )
        _mail_disabled(endpoint, reason=reason, now=now)
        count += 1
    _fail_pending(ids, reason=reason, now=now)
    return count


def _mail_disabled(endpoint: WebhookEndpoint, *, reason: str, now: dt.datetime) -> None:
    """Tell the hospital's contact, in the disabling transaction (sent after commit, once per
    disable): until someone re-enables the endpoint, notices wait in the pull API only."""
    hospital = endpoint.hospital
    base = payloads.base_url()
    body = (
        f"{hospital.name} ({hospital.code}): the portal stopped sending change notices to your webhook endpoint\n"
        f"  {endpoint.url}\n"
        f"on {timezone.localtime(now):%Y-%m-%d %H:%M} because: {reason}.\n\n"
        "Nothing is lost: every notice stays available to your system at\n"
        f"  {base}/api/v1/notices/?after_seq=<the last seq you processed>\n\n"
        "When the endpoint answers again, enable it with your API key:\n"
        f'  PATCH {base}/api/v1/webhooks/endpoints/{endpoint.pk}/ {{"active": true}}\n'
        f"  POST  {base}/api/v1/webhooks/endpoints/{endpoint.pk}/test/ (a signed test.ping)\n"
        f"then replay what failed: POST {base}/api/v1/notices/deliveries/replay/.\n"
    )
    email_notify(
        key=f"endpoint.disabled:{endpoint.pk}:{now.isoformat()}",
        recipients=[hospital.contact_email] if hospital.contact_email else [],
        subject=f"[目录门户] 变更通知端点已停用 / webhook endpoint disabled: {hospital.code}",
        body=body,
    )


def endpoint_test_ping(*, endpoint: WebhookEndpoint) -> dict[str, Any]:
    """Send a signed ``test.ping`` to the endpoint now, through the real transport (the same
    address check, pinning and read cap as a notice), and say what happened. Writes nothing:
    a ping is not a notice, so it takes no ``seq`` and leaves no delivery.

    Returns ``{webhook_id, delivered, status, error, latency_ms}`` where ``error`` is the coarse
    code (``timeout``, ``connection_failed``, ``http_<status>``) or None. Raises NotFound for a
    deleted endpoint."""
    found = WebhookEndpoint.objects.select_related("hospital").filter(pk=endpoint.pk, deleted_at__isnull=True).first()
    if found is None:
        raise NotFound(_("no such webhook endpoint"), code="not_found")
    endpoint = found
    now = timezone.now()
    webhook_id = f"msg_ping_{endpoint.pk}_{secrets.token_hex(8)}"
    body = json.dumps(
        payloads.ping_body(webhook_id=webhook_id, hospital_code=endpoint.hospital.code, endpoint_id=endpoint.pk, sent_at=now.isoformat()),
        separators=(",", ":"),
    )
    live = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        live.append(endpoint.previous_secret)
    headers = transport.Signer().headers(secrets=live, msg_id=webhook_id, timestamp=transport.signing_timestamp(now), body=body)
    request = transport.WebhookRequest(0, endpoint.pk, endpoint.url, headers, body.encode())
    # A client of its own: a ping in a web request must not wait for, or hold up, a batch.
    (outcome,) = transport.WebhookClient(1).send([request], timeout=conf.http_timeout())
    return {
        "webhook_id": webhook_id,
        "delivered": outcome.succeeded,
        "status": outcome.status,
        "error": outcome.error_code or None,
        "latency_ms": outcome.latency_ms,
    }


# --- the outbox ---------------------------------------------------------------------------

# One statement, so each row is written once and read back from RETURNING, never looked up
# again: the counter upsert (locks taken in hospital-id order, so two publishes cannot
# deadlock), the notices from the counters it returned, the deliveries from the notices.
# Hospitals that reported no item usage get ``affected_items`` NULL; those that did get the
# changed/retired/removed items among their codes (``[]`` when none).
_OUTBOX_SQL = """
WITH counters AS (
    INSERT INTO notices_noticecounter (hospital_id, last_seq)
    SELECT hospital.id, 1 FROM hospitals_hospital hospital
    WHERE hospital.active AND NOT EXISTS (
        SELECT 1 FROM notices_changenotice notice
        WHERE notice.hospital_id = hospital.id AND notice.release_id = %(release)s AND notice.event_type = %(event)s
    )
    ORDER BY hospital.id
    ON CONFLICT (hospital_id) DO UPDATE SET last_seq = notices_noticecounter.last_seq + 1
    RETURNING hospital_id, last_seq
), affected AS (
    SELECT usage.hospital_id,
           COALESCE(jsonb_agg(jsonb_build_object('code', change.code, 'change', change.change, 'fields', change.fields,
                                                 'successors', change.successors) ORDER BY change.code)
                    FILTER (WHERE change.code IS NOT NULL), '[]'::jsonb) AS items
    FROM notices_itemusage usage
    LEFT JOIN catalog_releasechange change
           ON change.release_id = %(release)s AND change.code = usage.code AND change.change IN ('changed', 'retired', 'removed')
    GROUP BY usage.hospital_id
), notices AS (
    INSERT INTO notices_changenotice (hospital_id, seq, event_type, release_id, webhook_id, affected_items, created_at)
    SELECT counters.hospital_id, counters.last_seq, %(event)s, %(release)s, 'msg_' || counters.hospital_id || '_' || counters.last_seq,
           affected.items, %(now)s
    FROM counters LEFT JOIN affected ON affected.hospital_id = counters.hospital_id
    RETURNING id, hospital_id
), deliveries AS (
    INSERT INTO notices_noticedelivery (notice_id, endpoint_id, state, attempts, next_attempt_at, last_error, last_error_code, created_at)
    SELECT notices.id, endpoint.id, 'pending', 0, %(now)s, '', '', %(now)s
    FROM notices
    JOIN notices_webhookendpoint endpoint ON endpoint.hospital_id = notices.hospital_id AND endpoint.active
    WHERE jsonb_array_length(endpoint.event_types) = 0 OR endpoint.event_types @> to_jsonb(ARRAY[%(event)s]::text[])
    RETURNING id
)
SELECT (SELECT count(*) FROM notices), (SELECT COALESCE(array_agg(id), '{}') FROM deliveries)
"""


def notices_create_for_release(*, release: CatalogRelease) -> int:
    """Write one ChangeNotice per active hospital for a just-published release, and one pending
    NoticeDelivery per active endpoint subscribed to the event, set-based (no per-row saves).

    Must run inside the publishing transaction (it is connected to ``release_publishing``): the
    per-hospital counter rows are locked until commit, so concurrent publishes get consecutive
    ``seq`` values with no gap. Delivery is scheduled on commit. Returns the number of notices.
    """
    params: dict[str, Any] = {"release": release.pk, "event": EVENT_RELEASE_PUBLISHED, "now": timezone.now()}
    with connection.cursor() as cursor:
        cursor.execute(_OUTBOX_SQL, params)
        created, delivery_ids = cursor.fetchone()
    transaction.on_commit(lambda: deliveries_dispatch(delivery_ids))
    return int(created)


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


@transaction.atomic
def deliveries_replay(*, delivery_ids: Iterable[int], user: Any, hospital_id: int | None = None) -> int:
    """Put failed (or delivered) deliveries back in the queue for a fresh round of attempts.

    Staff replay any delivery; ``hospital_id`` restricts to that hospital's. Raises
    ValidationFailed ``too_many_ids`` above REPLAY_MAX_IDS ids; Conflict ``endpoint_disabled``
    when an endpoint is disabled (re-enable it first). Returns the count.
    """
    wanted = sorted(set(delivery_ids))
    if len(wanted) > REPLAY_MAX_IDS:
        raise ValidationFailed(
            format_lazy(
                _("at most {REPLAY_MAX_IDS} deliveries per replay call, got {count}"), REPLAY_MAX_IDS=REPLAY_MAX_IDS, count=len(wanted)
            ),
            errors=[{"field": "ids", "code": "too_many_ids", "message": f"at most {REPLAY_MAX_IDS}"}],
        )
    qs = NoticeDelivery.objects.filter(pk__in=wanted).exclude(state=NoticeDelivery.State.PENDING)
    if hospital_id is not None:
        qs = qs.filter(notice__hospital_id=hospital_id)
    ids = sorted(qs.values_list("id", flat=True))
    if not ids:
        return 0
    disabled = list(
        WebhookEndpoint.objects.filter(deliveries__id__in=ids, active=False).values_list("url", flat=True).distinct().order_by("url")[:5]
    )
    if disabled:
        raise Conflict(
            format_lazy(_("endpoint disabled, re-enable it before replaying: {names}"), names=", ".join(disabled)), code="endpoint_disabled"
        )
    now = timezone.now()
    count = NoticeDelivery.objects.filter(pk__in=ids).update(
        state=NoticeDelivery.State.PENDING,
        attempts=0,
        next_attempt_at=now,
        lease_until=None,
        failed_at=None,
        last_error="",
        last_error_code="",
    )
    history_bulk_record(
        model=NoticeDelivery,
        where_sql=f"id IN ({', '.join(['%s'] * len(ids))})",
        params=ids,
        history_type="~",
        user_id=getattr(user, "pk", None),
        reason="replayed",
    )
    audit_record(
        action=AuditAction.NOTICES_REPLAYED,
        actor=user,
        object_type="notices.noticedelivery",
        province="" if hospital_id is None else Hospital.objects.get(pk=hospital_id).province.code,
        detail={"deliveries": ids[:100], "count": len(ids)},
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
        raise NotFound(format_lazy(_("no published release {label}"), label=label), code="release_unknown")
    existing = ReleaseAcknowledgement.objects.filter(hospital_id=hospital_id, release=release).first()
    if existing is not None:
        return existing, False
    ack = ReleaseAcknowledgement(hospital_id=hospital_id, release=release, loaded_at=loaded_at or timezone.now(), items_count=items_count)
    # The caller is a hospital principal, not a user: history records no user.
    history_save(ack, user=None, reason="acknowledged by hospital")
    hospital = Hospital.objects.select_related("province").get(pk=hospital_id)
    audit_record(
        action=AuditAction.RELEASE_ACKNOWLEDGED,
        actor=f"hospital {hospital.code}",
        obj=ack,
        province=hospital.province.code,
        detail={"release": label, "items_count": items_count},
    )
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
        raise ValidationFailed(format_lazy(_("{count} bad codes"), count=len(errors)), errors=errors)
    now = timezone.now()
    ItemUsage.objects.filter(hospital_id=hospital_id).delete()
    ItemUsage.objects.bulk_create([ItemUsage(hospital_id=hospital_id, code=c, reported_at=now) for c in cleaned], batch_size=5000)
    return len(cleaned)


# --- reminders to hospitals (issue 18) --------------------------------------------------------------

REMINDER_DAYS = 7


def release_reminders_queue(*, today: dt.date | None = None) -> dict[str, int]:
    """Remind every active hospital with a contact address that has not acknowledged a published
    release taking effect within REMINDER_DAYS (today included): one mail per hospital and
    release, ever (key ``release.not_acknowledged:<release>:<hospital>``; a daily beat entry
    repeats the check). One audit event per call that queued mail. Returns {releases, queued}."""
    today = today or timezone.localdate()
    releases = CatalogRelease.objects.filter(
        status=CatalogRelease.Status.PUBLISHED, effective_from__gte=today, effective_from__lte=today + dt.timedelta(days=REMINDER_DAYS)
    ).order_by("effective_from", "pk")
    base = payloads.base_url()
    queued = 0
    with transaction.atomic():
        for release in releases:
            waiting = (
                Hospital.objects.filter(active=True)
                .exclude(contact_email="")
                .exclude(pk__in=ReleaseAcknowledgement.objects.filter(release=release).values("hospital_id"))
                .order_by("pk")
                .values_list("pk", "code", "name", "contact_email")
            )
            with mail_language():
                subject = gettext("Catalog release %(label)s takes effect on %(date)s: please load it") % {
                    "label": release.label,
                    "date": release.effective_from.isoformat(),
                }
                template = gettext(
                    "%(name)s (%(code)s): catalog release %(label)s takes effect on %(date)s and your system has not "
                    "acknowledged loading it.\n"
                    "Download it: %(base)s/api/v1/catalog/releases/%(label)s/\n"
                    "Then acknowledge it: POST %(base)s/api/v1/catalog/releases/%(label)s/ack/\n"
                )
            queued += email_notify_each(
                messages=(
                    (
                        f"release.not_acknowledged:{release.pk}:{pk}",
                        email,
                        subject,
                        template % {"name": name, "code": code, "label": release.label, "date": release.effective_from, "base": base},
                    )
                    for pk, code, name, email in waiting.iterator(chunk_size=5000)
                )
            )
        if queued:
            audit_record(
                action=AuditAction.RELEASE_REMINDERS_QUEUED,
                actor="notices.remind_unacknowledged",
                object_type="catalog.catalogrelease",
                detail={"releases": [r.label for r in releases], "queued": queued, "day": today.isoformat()},
            )
    return {"releases": len(releases), "queued": queued}
