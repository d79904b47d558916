"""Detail pages: a record's timeline (who, when, why) and the actions this user may take, each
behind a confirmation step. One mechanism for transfers, releases, policies (and any record with a
workflow, e.g. reconciliation discrepancies).

How to use it (imitate ``apps/pooling/admin.py`` ``TransferAdmin``):

- put ``DetailActionsMixin`` first in the ModelAdmin's bases;
- implement ``detail_actions(request, obj)``: the ``Action`` list this user may take NOW. Ask
  the app's service-layer check (e.g. ``pooling.services.transfer_actions_for``), which runs the
  same refusal order the action itself runs, so a page never offers a button that answers 403 or
  409; the action still checks everything again when it runs;
- optionally ``detail_timeline(request, obj)`` (default: ``timeline_for(obj)``, the object's
  simple-history rows folded into its audit events).

The change page then shows the buttons above the form and the timeline below it
(``templates/admin/portal/change_form.html``). A button is a link to ``?action=NAME``: a GET shows
the confirmation step (what will happen, the reason field: required where ``Action.reason`` is
``REQUIRED``) and changes nothing; only its POST runs the action, whose domain error comes back
as a message on the same step. An action not offered to this user is 403, also when posted by hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .errors import DomainError
from .models import AuditAction, AuditEvent
from .reasons import actor_label, error_message, reason_label

# How closely a history row and an audit event written by the same action are together in time.
SAME_ACTION_WINDOW = dt.timedelta(seconds=2)

NO_REASON, OPTIONAL, REQUIRED = "none", "optional", "required"


@dataclass(frozen=True)
class Action:
    """One button: ``run(reason)`` performs it (a service call) and returns what it made."""

    name: str
    label: Any
    run: Callable[[str], Any]
    reason: str = NO_REASON  # NO_REASON, OPTIONAL or REQUIRED
    danger: bool = False
    explain: Any = ""  # what happens, shown on the confirmation step
    done: Any = ""  # the success message
    # A warning shown in red on the confirmation step, with a box the person must tick
    # (``confirm``, the sentence she ticks) before the POST runs the action.
    warning: Any = ""
    confirm: Any = ""


@dataclass
class TimelineEntry:
    when: dt.datetime
    who: str
    what: str
    why: str = ""
    changes: list[str] = field(default_factory=list)


def _history_label(history_type: str) -> str:
    return {"+": gettext("created"), "~": gettext("changed"), "-": gettext("deleted")}.get(history_type, history_type)


def _changed_fields(record: Any, model: type[models.Model]) -> list[str]:
    previous = record.prev_record
    if previous is None:
        return []
    names = []
    for change in record.diff_against(previous).changes:
        try:
            names.append(str(getattr(model._meta.get_field(change.field), "verbose_name", change.field)))
        except Exception:  # noqa: BLE001 - a field dropped since: show its name
            names.append(change.field)
    return names


def timeline_for(obj: models.Model, *, limit: int = 200) -> list[TimelineEntry]:
    """The object's audit events (what was done, by whom, why) with its history rows folded in
    (which fields changed); history rows no event explains (bulk paths, migrations) stand alone.
    Newest first."""
    # The newest ``limit`` events and history rows (a draft edited item by item has many).
    events = list(
        AuditEvent.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk)).order_by("-occurred_at", "-id")[:limit]
    )
    entries = [
        TimelineEntry(when=e.occurred_at, who=actor_label(e.actor_label), what=_action_label(e.action), why=reason_label(e.reason))
        for e in events
    ]
    claimed: set[int] = set()
    history = getattr(obj, "history", None)
    if history is not None:
        for record in history.select_related("history_user").order_by("-history_date", "-history_id")[:limit]:
            who = record.history_user.get_username() if record.history_user is not None else ""
            # The event of the same actor closest in time (within the window) wrote this row.
            near = [
                (abs(e.occurred_at - record.history_date), i)
                for i, e in enumerate(events)
                if i not in claimed
                and e.actor_label == (who or e.actor_label)
                and abs(e.occurred_at - record.history_date) <= SAME_ACTION_WINDOW
            ]
            match = min(near)[1] if near else None
            changes = _changed_fields(record, type(obj))
            if match is not None:
                claimed.add(match)
                entries[match].changes = changes
                if not entries[match].why and record.history_change_reason not in (None, "", "proposed", "approved", "posted", "submitted"):
                    entries[match].why = reason_label(record.history_change_reason)
                continue
            entries.append(
                TimelineEntry(
                    when=record.history_date,
                    who=who or gettext("system"),
                    what=_history_label(record.history_type),
                    why=reason_label(record.history_change_reason or ""),
                    changes=changes,
                )
            )
    return sorted(entries, key=lambda e: e.when, reverse=True)


def _action_label(action: str) -> str:
    try:
        return str(AuditAction(action).label)
    except ValueError:
        return action


class DetailActionsMixin:
    """A ModelAdmin mixin: the change page shows the actions this user may take and the
    timeline; ``?action=NAME`` is the confirmation step (see the module docstring)."""

    change_form_template: Any = "admin/portal/change_form.html"
    confirm_template = "admin/portal/confirm_action.html"

    def detail_actions(self, request: HttpRequest, obj: Any) -> list[Action]:
        return []

    def detail_timeline(self, request: HttpRequest, obj: Any) -> list[TimelineEntry]:
        return timeline_for(obj)

    def detail_summary(self, request: HttpRequest, obj: Any) -> list[tuple[Any, Any]]:
        """(label, value) pairs repeated on the confirmation step, so a person sees what she confirms."""
        return [(_("record"), str(obj))]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        name = request.POST.get("_detail_action") or request.GET.get("action")
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)  # type: ignore[attr-defined]
        if name:
            return self.action_view(request, obj, name)
        extra = {
            "detail_actions": self.detail_actions(request, obj),
            "timeline": self.detail_timeline(request, obj),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)  # type: ignore[misc]

    def action_view(self, request: HttpRequest, obj: Any, name: str) -> HttpResponse:
        action = next((a for a in self.detail_actions(request, obj) if a.name == name), None)
        if action is None:
            raise PermissionDenied(gettext("This action is not available to you on this record."))
        reason = (request.POST.get("reason") or "").strip()
        error = error_code = ""
        if request.method == "POST":
            if action.reason == REQUIRED and not reason:
                error = gettext("Say why: a reason is required.")
            elif action.confirm and request.POST.get("confirmed") != "yes":
                error = gettext("Tick the box to confirm you read the warning.")
            else:
                try:
                    action.run(reason)
                except DomainError as exc:
                    error = error_message(exc)
                    error_code = exc.code
                else:
                    messages.success(request, f"{obj}: {action.done or action.label}")
                    return HttpResponseRedirect(request.path)
        opts = self.model._meta  # type: ignore[attr-defined]
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": opts,
            "original": obj,
            "title": gettext("%(action)s: %(record)s") % {"action": action.label, "record": obj},
            "action": action,
            "summary": self.detail_summary(request, obj),
            "reason": reason,
            "error": error,
            "error_code": error_code,
            "reason_required": action.reason == REQUIRED,
            "reason_asked": action.reason != NO_REASON,
        }
        return TemplateResponse(request, self.confirm_template, context)
