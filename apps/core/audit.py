"""The typed audit log and the one way services record who changed a history-tracked row.

Every service action writes exactly one ``AuditEvent`` (``audit_record``) inside its own
transaction, so the event exists if and only if the action happened. Row-level history stays
with django-simple-history; ``history_save`` / ``history_delete`` set its user and reason in one
place (no hand-set ``_history_user`` / ``_change_reason`` pairs in services).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models, transaction

from .models import AuditAction, AuditEvent
from .principals import is_hospital

SYSTEM_LABEL = "system"


def _actor(actor: Any) -> tuple[Any, str]:
    """(the user row or None, a label people can read) for a user, a hospital principal or a process."""
    if actor is None:
        return None, SYSTEM_LABEL
    if is_hospital(actor):
        return None, f"hospital {actor.institution_code}"
    if isinstance(actor, str):
        return None, actor
    if getattr(actor, "pk", None) is None:
        return None, SYSTEM_LABEL
    return actor, str(actor.get_username())


def _province_of(obj: Any) -> str:
    """The province code an object belongs to, when it says (``province_code`` or ``province.code``)."""
    code = getattr(obj, "province_code", None)
    if isinstance(code, str):
        return code
    province = getattr(obj, "province", None)
    return str(getattr(province, "code", "") or "")


def audit_record(
    *,
    action: AuditAction | str,
    actor: Any,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: Any = "",
    province: str | None = None,
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event for ``action`` by ``actor`` (a user, a HospitalPrincipal, a process
    name or None for the system) on ``obj``. Must run inside the action's transaction.

    ``province`` defaults to the object's own province ('' for national objects). Raises
    ValueError for an action outside ``AuditAction`` (a programming error, not user input)."""
    if action not in AuditAction.values:
        raise ValueError(f"unknown audit action {action!r}: add it to AuditAction")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record runs inside the action's transaction")
    user, label = _actor(actor)
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    return AuditEvent.objects.create(
        actor=user,
        actor_label=label[:150],
        action=str(action),
        object_type=object_type,
        object_id=str(object_id or ""),
        object_repr=str(obj)[:200] if obj is not None else "",
        province_code=_province_of(obj) if province is None else province,
        reason=reason,
        detail=detail or {},
    )


def _history_author(instance: models.Model, user: Any, reason: str) -> None:
    # simple-history reads these two attributes when it writes the historical row.
    setattr(instance, "_history_user", user if getattr(user, "pk", None) else None)  # noqa: B010
    setattr(instance, "_change_reason", reason)  # noqa: B010


def history_save(instance: models.Model, *, user: Any, reason: str, update_fields: Iterable[str] | None = None) -> None:
    """Save a history-tracked row with ``user`` and ``reason`` on its historical row."""
    _history_author(instance, user, reason)
    instance.save(update_fields=list(update_fields) if update_fields is not None else None)


def history_delete(instance: models.Model, *, user: Any, reason: str) -> None:
    """Delete a history-tracked row, recording ``user`` and ``reason`` on the '-' historical row."""
    _history_author(instance, user, reason)
    instance.delete()
