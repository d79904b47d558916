"""Email to the people who can act: an outbox in the database, sent by workers, each notice once.

``email_notify`` writes one ``OutgoingEmail`` row per recipient in the caller's transaction
(nothing is sent for an action that rolls back) and queues the sender after commit; the beat
sweep (``core.send_due_email``) sends whatever is left, so a lost message or a dead SMTP server
delays mail but never loses it. The pair (key, recipient) is unique: repeating an event writes
nothing. Sending uses Django's email framework (console backend in the demo, SMTP from
``EMAIL_URL`` in production).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation

from .models import OutgoingEmail, StaffProfile

log = logging.getLogger(__name__)

SEND_BATCH = 100
MAX_ATTEMPTS = 8  # about a day of back-off; then the row stays for staff to see


def staff_who_can(*, roles: Iterable[str], province: str | None = None, exclude: Iterable[Any] = ()) -> QuerySet[Any]:
    """Active staff users holding one of ``roles``; with ``province`` those of that province
    (``''`` = national users only), excluding ``exclude`` (e.g. whoever proposed the thing)."""
    profiles = StaffProfile.objects.filter(role__in=list(roles))
    if province is not None:
        profiles = profiles.filter(province_code=province)
    excluded = [getattr(u, "pk", u) for u in exclude if u is not None]
    return get_user_model().objects.filter(is_active=True, pk__in=profiles.values("user_id")).exclude(pk__in=excluded).order_by("pk")


def portal_url(path: str) -> str:
    """An absolute link into the portal for a mail (``PORTAL_BASE_URL``, as webhook payloads)."""
    return str(getattr(settings, "PORTAL_BASE_URL", "http://127.0.0.1:8000")).rstrip("/") + path


def mail_language() -> Any:
    """Mail to staff is written in the portal's language (``LANGUAGE_CODE``, zh-hans), whatever
    the language of the request or task that triggers it: ``with mail_language(): gettext(...)``."""
    return translation.override(settings.LANGUAGE_CODE)


def awaiting_approval_notify(
    *, key: str, roles: Iterable[str], province: str | None, exclude: Iterable[Any] = (), subject: str, body: str
) -> int:
    """Tell the people who can act that something awaits them (issue 18): every active user
    holding one of ``roles`` (of ``province``; '' = national users only, None = any), less
    ``exclude`` (whoever took part and may not approve). One mail per (key, person), ever: put
    what makes the occasion unique in ``key`` (e.g. ``discrepancy.resolution:<id>:<proposal n>``).
    Written in the caller's transaction, so nothing is sent for an action that rolls back;
    returns how many mails were queued. Transfers, releases, policies and discrepancy
    resolutions call it."""
    return email_notify(key=key, recipients=staff_who_can(roles=roles, province=province, exclude=exclude), subject=subject, body=body)


def email_notify(*, key: str, recipients: Iterable[Any], subject: str, body: str) -> int:
    """Queue ``subject``/``body`` to each recipient (a user with an email address, or an address);
    returns how many new rows were written (recipients without an address and repeats are skipped)."""
    rows: dict[str, OutgoingEmail] = {}
    for recipient in recipients:
        address = recipient if isinstance(recipient, str) else getattr(recipient, "email", "")
        if not address or address in rows:
            continue
        user = None if isinstance(recipient, str) else recipient
        rows[address] = OutgoingEmail(key=key[:200], recipient=address, user=user, subject=subject[:200], body=body)
    if not rows:
        return 0
    created = OutgoingEmail.objects.bulk_create(list(rows.values()), ignore_conflicts=True)
    transaction.on_commit(_queue_sender)
    return len(created)


def email_notify_each(*, messages: Iterable[tuple[str, str, str, str]]) -> int:
    """Queue many one-recipient mails at once: ``(key, address, subject, body)`` each; (key,
    address) pairs already queued are skipped. Returns how many rows were new."""
    wanted = {(key[:200], address): (subject[:200], body) for key, address, subject, body in messages if address}
    if not wanted:
        return 0
    seen = set(OutgoingEmail.objects.filter(key__in={key for key, _ in wanted}).values_list("key", "recipient"))
    rows = [
        OutgoingEmail(key=key, recipient=address, subject=s, body=b)
        for (key, address), (s, b) in wanted.items()
        if (key, address) not in seen
    ]
    if rows:
        OutgoingEmail.objects.bulk_create(rows, ignore_conflicts=True, batch_size=5000)  # a racing sweep's rows are skipped
        transaction.on_commit(_queue_sender)
    return len(rows)


def _queue_sender() -> None:
    from celery import current_app

    current_app.tasks["core.send_due_email"].apply_async()


def _claim(now: dt.datetime) -> list[OutgoingEmail]:
    return list(
        OutgoingEmail.objects.select_for_update(skip_locked=True)
        .filter(sent_at__isnull=True, next_attempt_at__lte=now, attempts__lt=MAX_ATTEMPTS)
        .order_by("next_attempt_at", "pk")[:SEND_BATCH]
    )


def email_send_due() -> int:
    """Send due rows in batches over one SMTP connection; returns how many were sent. A failed
    row is tried again later (exponential back-off with jitter). Safe to run from many workers:
    rows are claimed with SKIP LOCKED."""
    sent = 0
    while True:
        with transaction.atomic():
            now = timezone.now()
            batch = _claim(now)
            if not batch:
                return sent
            connection = get_connection(fail_silently=False)
            try:
                connection.open()
                for row in batch:
                    message = EmailMessage(row.subject, row.body, settings.DEFAULT_FROM_EMAIL, [row.recipient], connection=connection)
                    try:
                        message.send()
                    except Exception as exc:  # noqa: BLE001 - one bad address must not stop the batch
                        _defer(row, now, exc)
                        continue
                    row.sent_at = timezone.now()
                    row.attempts += 1
                    row.save(update_fields=["sent_at", "attempts"])
                    sent += 1
            except OSError as exc:  # the server is down: every claimed row waits
                for row in batch:
                    if row.sent_at is None:
                        _defer(row, now, exc)
                return sent
            finally:
                connection.close()


def _defer(row: OutgoingEmail, now: dt.datetime, exc: Exception) -> None:
    row.attempts += 1
    delay = min(60 * 2**row.attempts, 6 * 3600) * random.uniform(0.8, 1.2)
    row.next_attempt_at = now + dt.timedelta(seconds=delay)
    row.last_error = f"{type(exc).__name__}: {exc}"[:500]
    row.save(update_fields=["attempts", "next_attempt_at", "last_error"])
    log.warning("email %s to %s failed (attempt %s): %s", row.key, row.recipient, row.attempts, exc)
