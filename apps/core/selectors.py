"""Reads of core: the audit log, filtered as the auditor page, its CSV export and the API ask."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from .models import AuditAction, AuditEvent
from .permissions import has_role
from .roles import Role

AUDIT_READERS = (Role.AUDITOR,)  # and superusers: the audit log spans every province


def audit_readable_by(user: Any) -> bool:
    return has_role(user, *AUDIT_READERS)


def audit_events(
    *, actor: str = "", action: str = "", province: str = "", date_from: dt.date | None = None, date_to: dt.date | None = None
) -> QuerySet[AuditEvent]:
    """Audit events, newest first. ``actor`` is a user name (or a hospital/process label);
    ``date_to`` is inclusive (whole days in the portal's time zone)."""
    events = AuditEvent.objects.select_related("actor")
    if actor:
        events = events.filter(actor_label=actor)
    if action:
        events = events.filter(action=action)
    if province:
        events = events.filter(province_code=province)
    if date_from:
        events = events.filter(occurred_at__date__gte=date_from)
    if date_to:
        events = events.filter(occurred_at__date__lte=date_to)
    return events.order_by("-occurred_at", "-id")


AUDIT_CSV_COLUMNS = ("occurred_at", "actor", "action", "action_label", "object_type", "object_id", "object", "province", "reason", "detail")


def _neutral(value: str) -> str:
    # A spreadsheet must not run what a user typed into a reason (=HYPERLINK(...)).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def audit_csv_rows(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """The events as CSV text, one chunk per row (header first), for a streaming download."""
    import json

    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def emit(row: list[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_neutral(cell) for cell in row])
        return buffer.getvalue()

    yield "\ufeff" + emit(list(AUDIT_CSV_COLUMNS))  # BOM: spreadsheet programs then read the Chinese right
    for event in events.iterator(chunk_size=2000):
        yield emit(
            [
                event.occurred_at.isoformat(),
                event.actor_label,
                event.action,
                _label(event.action),
                event.object_type,
                event.object_id,
                event.object_repr,
                event.province_code,
                event.reason,
                json.dumps(event.detail, ensure_ascii=False, sort_keys=True),
            ]
        )


def _label(action: str) -> str:
    try:
        return str(AuditAction(action).label)
    except ValueError:
        return action
