"""Every write on the national catalog. One transaction each; the only way to publish.

Rules: drafts are the only editable releases (409 release_not_draft); two people on every
release: whoever created the draft, edited it (items or details), imported a file into it or
submitted it is recorded as a ``ReleaseParticipant`` in that step's transaction and never
approves or rejects it (409 same_user_cannot_approve, checked before the role; also a trigger in
the database); only a catalog_reviewer approves; only an approved release is published (409
release_not_approved); a published release never changes (also enforced by triggers).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, Literal

from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.core.audit import audit_record, history_delete, history_save
from apps.core.codes import normalise_code
from apps.core.errors import Conflict, NotFound, ValidationFailed, require_reason
from apps.core.history import history_bulk_record
from apps.core.mail import awaiting_approval_notify, mail_language, portal_url
from apps.core.models import AuditAction
from apps.core.permissions import CATALOG_APPROVERS, CATALOG_EDITORS, require_role
from apps.core.roles import Role
from apps.core.sweeps import SweepIncomplete, sweep

from . import exports, search, sql
from .models import CatalogItem, CatalogRelease, ReleaseChange, ReleaseParticipant
from .selectors import counts_by_kind, release_base_default, release_losses, release_previous
from .signals import release_published, release_publishing
from .validation import clean_item

Status = CatalogRelease.Status


def _lock(release: CatalogRelease) -> CatalogRelease:
    """Lock the release row and refresh the caller's instance, so it sees what it acts on."""
    CatalogRelease.objects.select_for_update().filter(pk=release.pk).values_list("pk").get()
    release.refresh_from_db()
    return release


def took_part(*, release: CatalogRelease, user: Any, part: str) -> None:
    """Record that ``user`` took ``part`` in ``release`` (once per part; in the caller's
    transaction, under the release's row lock). An operator at the shell (no user) is not recorded."""
    if getattr(user, "pk", None) is None:
        return
    ReleaseParticipant.objects.bulk_create([ReleaseParticipant(release=release, user=user, role=part)], ignore_conflicts=True)


def _refuse_participant(release: CatalogRelease, user: Any, *, verb: str) -> None:
    uid = getattr(user, "pk", None)
    if uid is not None and (release.submitted_by_id == uid or ReleaseParticipant.objects.filter(release=release, user_id=uid).exists()):
        text = (
            _("you created, edited, imported into or submitted release {label}: another person approves it")
            if verb == "approves"
            else _("you created, edited, imported into or submitted release {label}: another person reviews it")
        )
        raise Conflict(format_lazy(text, label=release.label), code="same_user_cannot_approve")


def ensure_draft(release: CatalogRelease) -> None:
    if release.status != Status.DRAFT:
        raise Conflict(
            format_lazy(
                _("release {label} is {status}; only drafts can be changed"), label=release.label, status=Status(release.status).label
            ),
            code="release_not_draft",
        )


# ``based_on`` of a new draft when the caller does not choose: the release in force when it takes effect.
IN_FORCE: Final = "in_force"


@transaction.atomic
def release_create_draft(
    *, label: str, effective_from: dt.date, user: Any, based_on: CatalogRelease | Literal["in_force"] | None = IN_FORCE
) -> CatalogRelease:
    """Create a draft with the items of ``based_on`` (a published release), copied set-based.

    By default (``IN_FORCE``) that is the release in force when the draft takes effect
    (``selectors.release_base_default``; none before it: the draft starts empty), so a new draft
    starts from what hospitals have and its review shows only what was changed; ``None`` starts
    empty on purpose. Item history is not duplicated for the copy: the based-on release's
    snapshot is the items' prior state, and the release's own history records what it was copied from.
    """
    require_role(user, *CATALOG_EDITORS)
    if isinstance(based_on, str):  # IN_FORCE
        based_on = release_base_default(effective_from=effective_from)
    if CatalogRelease.objects.filter(label=label).exists():
        raise ValidationFailed(
            format_lazy(_("a release labelled {label} exists"), label=label),
            errors=[{"field": "label", "code": "unique", "message": "label taken"}],
        )
    if based_on is not None and not based_on.is_published:
        raise ValidationFailed(
            _("based_on must be a published release"), errors=[{"field": "based_on", "code": "invalid", "message": "not published"}]
        )
    release = CatalogRelease(label=label, effective_from=effective_from, based_on=based_on, created_by=user)
    release.full_clean(exclude=["created_by"])
    history_save(release, user=user, reason=f"copied from {based_on.label}" if based_on else "created empty")
    took_part(release=release, user=user, part=ReleaseParticipant.Part.CREATED)
    if based_on is not None:
        # The new release's partition is empty: loaded unindexed, indexed once after the rows.
        with sql.items_unindexed(release.pk), connection.cursor() as cursor:
            cursor.execute(sql.COPY_ITEMS_SQL, [release.pk, based_on.pk])
        # Its items will be edited: their history partition now, in this short transaction, not
        # inside a later import (ATTACH locks the users' table until commit).
        sql.item_history_partition_ensure(release.pk)
    audit_record(
        action=AuditAction.RELEASE_CREATED,
        actor=user,
        obj=release,
        detail={"effective_from": release.effective_from.isoformat(), "based_on": based_on.label if based_on else None},
    )
    return release


@transaction.atomic
def item_put(*, release: CatalogRelease, data: dict[str, Any], user: Any, reason: str = "", code: str | None = None) -> CatalogItem:
    """Create or fully replace one item of a draft. Raises ValidationFailed with field errors.

    ``code``: the item the request names (the API's URL); the data's code, when given, must be
    the same code (400 ``code_mismatch``): a PUT to one item never writes another."""
    require_role(user, *CATALOG_EDITORS)
    release = _lock(release)
    ensure_draft(release)
    if code is not None:
        given = data.get("code") or code
        if normalise_code(str(given)) != normalise_code(code):
            raise ValidationFailed(
                format_lazy(_("the item's code {given} is not the code {code} the request names"), given=given, code=code),
                errors=[{"field": "code", "code": "code_mismatch", "message": f"{given} is not {code}"}],
            )
        data = {**data, "code": given}
    clean, errors = clean_item(data)
    if errors:
        raise ValidationFailed(format_lazy(_("item {code} is not valid"), code=clean.get("code") or "?"), errors=errors)
    item = CatalogItem.objects.filter(release=release, code=clean["code"]).first() or CatalogItem(release=release)
    created = item.pk is None
    for field, value in clean.items():
        setattr(item, field, value)
    history_save(item, user=user, reason=reason or ("created" if created else "edited"))
    took_part(release=release, user=user, part=ReleaseParticipant.Part.EDITED)
    search.terms_ensure(texts=[item.name, item.generic_name, item.manufacturer])
    audit_record(
        action=AuditAction.RELEASE_ITEM_CHANGED,
        actor=user,
        obj=release,
        reason=reason,
        detail={"code": item.code, "created": created},
    )
    return item


@transaction.atomic
def item_delete(*, release: CatalogRelease, code: str, user: Any, reason: str = "") -> None:
    require_role(user, *CATALOG_EDITORS)
    release = _lock(release)
    ensure_draft(release)
    item = CatalogItem.objects.filter(release=release, code=code).first()
    if item is None:
        raise NotFound(format_lazy(_("no item {code} in release {label}"), code=code, label=release.label), code="code_unknown")
    history_delete(item, user=user, reason=reason or "deleted")
    took_part(release=release, user=user, part=ReleaseParticipant.Part.EDITED)
    audit_record(action=AuditAction.RELEASE_ITEM_DELETED, actor=user, obj=release, reason=reason, detail={"code": code})


@transaction.atomic
def release_delete_draft(*, release: CatalogRelease, user: Any, reason: str = "") -> None:
    """Delete a draft with its items (admin); its history rows stay. Raises 409
    release_not_draft, Forbidden (role).

    The release's row is locked first, as every writer of a release locks it, the bulk worker's
    ``items_finish_locked`` too: a delete that took the items' locks first and the release's
    last (Django's cascade) deadlocked with that task building the draft's indexes."""
    require_role(user, *CATALOG_EDITORS)
    release = _lock(release)
    ensure_draft(release)
    audit_record(
        action=AuditAction.RELEASE_DELETED,
        actor=user,
        obj=release,
        reason=reason,
        detail={"label": release.label, "items": CatalogItem.objects.filter(release=release).count()},
    )
    history_delete(release, user=user, reason=reason or "deleted")


@transaction.atomic
def release_update_draft(*, release: CatalogRelease, user: Any, label: str, effective_from: dt.date, reason: str = "") -> CatalogRelease:
    """Change a draft's label or effective date (admin). The editor takes part in the release.
    Raises 409 release_not_draft, Forbidden (role), ValidationFailed (label taken or malformed)."""
    require_role(user, *CATALOG_EDITORS)
    release = _lock(release)
    ensure_draft(release)
    if CatalogRelease.objects.filter(label=label).exclude(pk=release.pk).exists():
        raise ValidationFailed(
            format_lazy(_("a release labelled {label} exists"), label=label),
            errors=[{"field": "label", "code": "unique", "message": "label taken"}],
        )
    before = {"label": release.label, "effective_from": release.effective_from.isoformat()}
    release.label, release.effective_from = label, effective_from
    release.full_clean(exclude=["created_by"])
    history_save(release, user=user, reason=reason or "details edited")
    took_part(release=release, user=user, part=ReleaseParticipant.Part.EDITED)
    audit_record(
        action=AuditAction.RELEASE_CHANGED,
        actor=user,
        obj=release,
        reason=reason,
        detail={"before": before, "label": label, "effective_from": effective_from.isoformat()},
    )
    return release


def items_record_history(
    *, release: CatalogRelease, codes_sql: str | None, params: list[Any], user: Any, history_type: str, reason: str
) -> int:
    """History rows for items changed by a bulk path (importers), set-based: the release's items
    whose code ``codes_sql`` selects, or every item of the release (``codes_sql`` None)."""
    user_id = getattr(user, "pk", None)
    if codes_sql is None:
        return sql.item_history_load(release_id=release.pk, history_type=history_type, reason=reason, user_id=user_id, at=timezone.now())
    sql.item_history_partition_ensure(release.pk)
    return history_bulk_record(
        model=CatalogItem,
        where_sql=f"release_id = %s AND code IN ({codes_sql})",
        params=[release.pk, *params],
        history_type=history_type,
        user_id=user_id,
        reason=reason,
    )


def items_finish(release: CatalogRelease) -> bool:
    """After a bulk load into the draft (``sql.items_unindexed``, which builds only its keys):
    the readers' indexes of its items and item history, the items' statistics and their texts'
    search dictionary entries. False when the release was finished already. In the caller's
    transaction, which holds the release's row."""
    if not sql.items_finish(release.pk):
        return False
    search.terms_fill(release_id=release.pk)
    return True


def items_finish_locked(*, release_id: int) -> bool:
    """``items_finish`` in a transaction of its own holding the release's row (the bulk worker,
    after the load commits; a redelivered task finds nothing to do). A release deleted since
    leaves its item history (history outlives what it records), which still gets its indexes."""
    with transaction.atomic():
        release = CatalogRelease.objects.select_for_update().filter(pk=release_id).first()
        if release is None:
            return sql.item_history_index(release_id)
        return items_finish(release)


class ReleasesNotFinished(SweepIncomplete):
    """Some releases of a sweep could not be finished (each is logged); the others were."""


def items_finish_due() -> int:
    """Finish every release whose finishing task was lost (``sql.releases_to_finish``), each in a
    transaction of its own; how many needed it. The bulk worker's beat sweep and its start.

    A release that fails (a lock it waited on too long, a full disk) is logged and the sweep
    goes on to the next, then raises ``ReleasesNotFinished``: one bad release never keeps the
    others unindexed, and the next sweep tries it again."""
    return sweep(
        sql.releases_to_finish(),
        lambda release_id: int(items_finish_locked(release_id=release_id)),
        what="catalog release %s: its readers' indexes could not be built",
        incomplete=ReleasesNotFinished,
    )


def _transition(
    release: CatalogRelease, *, user: Any, action: AuditAction, reason: str, detail: dict[str, Any] | None = None, **fields: Any
) -> CatalogRelease:
    """Move a release to its next state: history row and audit event in the caller's transaction."""
    for name, value in fields.items():
        setattr(release, name, value)
    history_save(release, user=user, reason=reason)
    audit_record(action=action, actor=user, obj=release, reason=reason, detail=detail)
    return release


@transaction.atomic
def release_submit(*, release: CatalogRelease, user: Any, confirm_removals: bool = False) -> CatalogRelease:
    """Draft → in review. The submitter takes part in the release.

    Refusals: an empty draft (400); a draft that, against the release before it, removes items
    without successor or empties fields of items, unless the submitter confirms she saw it
    (``confirm_removals=True``): 409 ``removals_not_confirmed`` naming the counts. (Pages ask
    the person; the API's submit keeps its contract and confirms.)"""
    require_role(user, *CATALOG_EDITORS)
    release = _lock(release)
    ensure_draft(release)
    if not CatalogItem.objects.filter(release=release).exists():
        raise Conflict(format_lazy(_("release {label} has no items"), label=release.label), code="release_empty")
    losses = None if confirm_removals else release_losses(release=release)
    if losses is not None and (losses["removed"] or losses["cleared_fields"]):
        raise Conflict(
            format_lazy(
                _(
                    "release {label} removes {removed} item(s) and clears {cleared} field(s) of {items} item(s) "
                    "against the release before it; confirm to submit"
                ),
                label=release.label,
                removed=losses["removed"],
                cleared=losses["cleared_fields"],
                items=losses["cleared_items"],
            ),
            code="removals_not_confirmed",
        )
    # Reviewers and hospitals read it with every index (a lost bulk task costs this submit the
    # builds; after the refusals, which would roll them back).
    items_finish(release)
    took_part(release=release, user=user, part=ReleaseParticipant.Part.SUBMITTED)
    release = _transition(
        release,
        user=user,
        action=AuditAction.RELEASE_SUBMITTED,
        detail={"confirmed_removals": confirm_removals},
        reason="submitted",
        status=Status.IN_REVIEW,
        submitted_by=user,
        submitted_at=timezone.now(),
        rejection_reason="",
    )
    _notify_reviewers(release)
    return release


def _notify_reviewers(release: CatalogRelease) -> None:
    """A submitted release awaits a catalog_reviewer who took no part in it: each gets one mail
    per submission (``release.submitted:<id>:<submitted_at>``), in the submitting transaction."""
    facts = {
        "label": release.label,
        "date": release.effective_from.isoformat(),
        "url": portal_url(reverse("catalog:release-review", args=[release.label])),
    }
    with mail_language():
        subject = gettext("Catalog release %(label)s awaits your review") % facts
        body = gettext("Catalog release %(label)s (in force from %(date)s) was submitted for review.\nReview it: %(url)s\n") % facts
    awaiting_approval_notify(
        key=f"release.submitted:{release.pk}:{release.submitted_at.isoformat() if release.submitted_at else ''}",
        roles=[Role.CATALOG_REVIEWER],
        province=None,
        exclude=ReleaseParticipant.objects.filter(release=release).values_list("user_id", flat=True),
        subject=subject,
        body=body,
    )


@transaction.atomic
def release_approve(*, release: CatalogRelease, user: Any) -> CatalogRelease:
    """In review → approved by a catalog_reviewer who took no part in the release.

    Refusals, in this order: a participant (creator, editor, importer, submitter) → 409
    same_user_cannot_approve, whatever her role; not a catalog_reviewer → 403 permission_denied;
    not in review → 409 release_not_in_review. The database refuses a participant too."""
    release = _lock(release)
    _refuse_participant(release, user, verb="approves")
    require_role(user, *CATALOG_APPROVERS)
    if release.status != Status.IN_REVIEW:
        raise Conflict(
            format_lazy(_("release {label} is {status}, not in review"), label=release.label, status=Status(release.status).label),
            code="release_not_in_review",
        )
    try:
        with transaction.atomic():
            return _transition(
                release,
                user=user,
                action=AuditAction.RELEASE_APPROVED,
                reason="approved",
                status=Status.APPROVED,
                approved_by=user,
                approved_at=timezone.now(),
            )
    except IntegrityError as exc:  # the CHECK and trigger, should a participant appear past the lock above
        raise Conflict(_("a person who took part in a release cannot approve it"), code="same_user_cannot_approve") from exc


@transaction.atomic
def release_reject(*, release: CatalogRelease, user: Any, reason: str) -> CatalogRelease:
    """In review or approved → back to draft with a reason people can act on. A review like an
    approval: refused to participants (409 same_user_cannot_approve) before the role check."""
    release = _lock(release)
    _refuse_participant(release, user, verb="reviews")
    require_role(user, *CATALOG_APPROVERS)
    require_reason(reason, detail=_("a rejection needs a reason"))
    if release.status not in (Status.IN_REVIEW, Status.APPROVED):
        raise Conflict(
            format_lazy(_("release {label} is {status}, not in review"), label=release.label, status=Status(release.status).label),
            code="release_not_in_review",
        )
    return _transition(
        release,
        user=user,
        action=AuditAction.RELEASE_REJECTED,
        reason=reason,
        status=Status.DRAFT,
        rejection_reason=reason,
        approved_by=None,
        approved_at=None,
    )


@transaction.atomic
def release_publish(*, release: CatalogRelease, user: Any) -> CatalogRelease:
    """Approved → published: store the diff against the previous published release, counts,
    export files and their SHA-256, then freeze. Listeners hear ``release_published`` on commit.
    """
    require_role(user, *CATALOG_EDITORS)
    release = _lock(release)
    if release.status != Status.APPROVED:
        raise Conflict(
            format_lazy(
                _("release {label} is {status}; only approved releases are published"),
                label=release.label,
                status=Status(release.status).label,
            ),
            code="release_not_approved",
        )
    if CatalogRelease.objects.filter(status=Status.PUBLISHED, effective_from=release.effective_from).exists():
        raise Conflict(
            format_lazy(_("a published release already takes effect on {date}"), date=release.effective_from), code="effective_date_taken"
        )
    previous = release_previous(release=release)
    _store_diff(release=release, previous=previous)
    diff_counts = dict.fromkeys(ReleaseChange.Change.values, 0)
    for entry in ReleaseChange.objects.filter(release=release).values("change").annotate(n=Count("id")).order_by():
        diff_counts[entry["change"]] = entry["n"]
    by_kind = counts_by_kind(release=release)
    sha256, files = exports.build_exports(release)
    _transition(
        release,
        user=user,
        action=AuditAction.RELEASE_PUBLISHED,
        reason="published",
        detail={"effective_from": release.effective_from.isoformat(), "diff_counts": diff_counts, "sha256": sha256},
        status=Status.PUBLISHED,
        previous=previous,
        published_by=user,
        published_at=timezone.now(),
        counts={"total": sum(by_kind.values()), "by_kind": by_kind},
        diff_counts=diff_counts,
        sha256=sha256,
        exports=files,
    )
    release_publishing.send(sender=CatalogRelease, release=release)
    transaction.on_commit(lambda: release_published.send(sender=CatalogRelease, release=release))
    return release


RELEASE_ACTIONS = ("submit", "approve", "reject", "publish")


def release_actions_for(*, release: CatalogRelease, user: Any) -> list[str]:
    """Which of submit, approve, reject and publish ``user`` may take on ``release`` now (the check
    before the action: a page offers only these, so a reviewer sees no Publish button that would
    answer 403). Same rules and order as the actions, which check again when they run."""
    from apps.core.permissions import has_role

    uid = getattr(user, "pk", None)
    took_part_in = uid is not None and (
        release.submitted_by_id == uid or ReleaseParticipant.objects.filter(release=release, user_id=uid).exists()
    )
    editor, reviewer = has_role(user, *CATALOG_EDITORS), has_role(user, *CATALOG_APPROVERS)
    allowed = []
    if release.status == Status.DRAFT and editor and CatalogItem.objects.filter(release=release).exists():
        allowed.append("submit")
    if release.status == Status.IN_REVIEW and reviewer and not took_part_in:
        allowed.append("approve")
    if release.status in (Status.IN_REVIEW, Status.APPROVED) and reviewer and not took_part_in:
        allowed.append("reject")
    if release.status == Status.APPROVED and editor:
        allowed.append("publish")
    return allowed


def _store_diff(*, release: CatalogRelease, previous: CatalogRelease | None) -> None:
    """The release's changes against the one before it, into its own partition (catalog 0015):
    a first release's (every item added) written before the partition is attached and indexed."""
    with connection.cursor() as cursor:
        if previous is None:
            cursor.execute("SELECT catalog_release_changes_load_all_added(%s)", [release.pk])
            return
        cursor.execute("SELECT catalog_release_changes_partition_ensure(%s)", [release.pk])
        cursor.execute(sql.DIFF_SETTINGS_SQL)
        cursor.execute(sql.STORE_DIFF_SQL, {"old": previous.pk, "new": release.pk})
