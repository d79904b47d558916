"""Every write on the adjustment-fund ledger. One transaction each.

Rules (each also enforced by PostgreSQL where money is at stake, see migration 0002):
- a transfer is proposed by a finance_maker (or a system proposer such as reconciliation) of
  one of the two accounts' provinces; the same ``Idempotency-Key`` with the same body returns
  the same transfer, with another body 409 ``idempotency_key_conflict``;
- it is approved by a finance_checker of the debited account's province (403 ``wrong_province``)
  who is not the proposer (409 ``same_user_cannot_approve``, checked before any role check);
  approval posts it at once: both account rows are locked in primary-key order and the
  overdraft limit is checked under the lock (409 ``insufficient_funds``, the transfer stays
  proposed); only proposed transfers are approved, rejected or voided (409 ``transfer_not_proposed``);
- a posted transfer is never changed: it is undone by a reversing transfer (which needs approval),
  at most once: while a reversal is proposed, approved or posted, another is 409
  ``transfer_already_reversed`` (checked under the transfer's row lock; a partial unique index
  on ``reverses`` is the backstop).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePath
from typing import IO, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, models, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from apps.benefits.models import PoolingRegion, Province
from apps.core.audit import audit_record, history_save
from apps.core.bulk import SNIFF_BYTES, BulkFileRejected, detect_encoding, encoding_error, header_errors, row_error
from apps.core.codes import normalise_code
from apps.core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed, require_reason
from apps.core.jobs import job_enqueue
from apps.core.mail import awaiting_approval_notify, email_notify, mail_language, portal_url, staff_who_can
from apps.core.models import AuditAction, Job
from apps.core.money import MoneyError, check_fen, format_yuan
from apps.core.otp import otp_verified, require_otp
from apps.core.permissions import has_role, require_province, require_role, staff_province
from apps.core.roles import Role

from . import adjustment, selectors, sql
from .models import (
    PERIOD_PATTERN,
    AdjustmentRule,
    AdjustmentRun,
    AdvanceFundPolicy,
    ClearingResult,
    FundAccount,
    LedgerArchive,
    PoolingBudget,
    PoolingModelChange,
    RegionPeriodFigures,
    Transfer,
)

State = Transfer.State
Kind = FundAccount.Kind
log = logging.getLogger(__name__)

# Users that propose on behalf of a process, never log in and hold no role (see system_proposer).
SYSTEM_PROPOSERS = frozenset({"system-reconciliation", "system-adjustment", "system-advance"})


# --- accounts ----------------------------------------------------------------------------------


def _account_name(kind: str, province: Province | None = None, region: PoolingRegion | None = None) -> str:
    """An account's name: Chinese, a proper name in every language (the kind's label says the rest)."""
    if kind == Kind.NATIONAL:
        return "全国调剂金"
    assert province is not None
    if kind == Kind.EXTERNAL:
        return f"{province.name} 外部收支"
    if kind == Kind.ADVANCE:
        return f"{province.name} 跨省结算预付金"
    if kind == Kind.REGIONAL:
        assert region is not None
        return f"{region.name} 统筹基金"
    if province.pooling_model == Province.PoolingModel.UNIFIED:
        return f"{province.name} 省级统筹基金"
    return f"{province.name} 省级调剂金"


def accounts_ensure() -> int:
    """Create the missing accounts: the national fund, a provincial, an external and an advance
    account (预付金 at the national clearing account) per province, a regional account per pooling
    region of an adjustment-fund province. Idempotent; runs after every migrate and when a
    province or region is added. Returns how many it made."""
    with transaction.atomic():
        existing = set(FundAccount.objects.values_list("kind", "province_id", "region_id"))
        missing: list[FundAccount] = []
        if not any(kind == Kind.NATIONAL for kind, _, _ in existing):
            missing.append(FundAccount(kind=Kind.NATIONAL, name=_account_name(Kind.NATIONAL)))
        for province in Province.objects.all():
            for kind in (Kind.PROVINCIAL, Kind.EXTERNAL, Kind.ADVANCE):
                if (kind, province.pk, None) not in existing:
                    missing.append(FundAccount(kind=kind, province=province, name=_account_name(kind, province)))
        regions = PoolingRegion.objects.select_related("province").filter(province__pooling_model=Province.PoolingModel.ADJUSTMENT_FUND)
        for region in regions:
            if (Kind.REGIONAL, region.province_id, region.pk) not in existing:
                missing.append(
                    FundAccount(
                        kind=Kind.REGIONAL,
                        province=region.province,
                        region=region,
                        name=_account_name(Kind.REGIONAL, region.province, region),
                    )
                )
        if missing:
            bulk_create_with_history(missing, FundAccount, default_change_reason="account opened")
        return len(missing)


@transaction.atomic
def account_set_overdraft_limit(*, account: FundAccount, limit_fen: int, user: Any, reason: str) -> FundAccount:
    """Change how far below zero an account may go; finance_checker of its province only."""
    _require_checker_for(user, account)
    try:
        limit_fen = check_fen(limit_fen)
    except MoneyError as exc:
        raise ValidationFailed(str(exc), errors=[{"field": "overdraft_limit_fen", "code": "invalid", "message": str(exc)}]) from exc
    if limit_fen < 0:
        raise ValidationFailed(
            _("an overdraft limit is ≥ 0"), errors=[{"field": "overdraft_limit_fen", "code": "invalid", "message": "negative"}]
        )
    account = FundAccount.objects.select_for_update().get(pk=account.pk)
    if account.kind != Kind.EXTERNAL and account.balance_fen < -limit_fen:
        raise Conflict(
            format_lazy(
                _("{account}: balance {balance} is already below that limit"), account=account, balance=format_yuan(account.balance_fen)
            ),
            code="insufficient_funds",
        )
    old_limit = account.overdraft_limit_fen
    account.overdraft_limit_fen = limit_fen
    history_save(account, user=user, reason=reason or "overdraft limit changed", update_fields=["overdraft_limit_fen"])
    audit_record(
        action=AuditAction.ACCOUNT_LIMIT_CHANGED,
        actor=user,
        obj=account,
        province=account.province_code,
        reason=reason,
        detail={"old_fen": old_limit, "new_fen": limit_fen},
    )
    return account


# --- who may do what ---------------------------------------------------------------------------


def system_proposer(*, name: str) -> Any:
    """The user a process proposes as (``reconciliation``, ``adjustment``): no password, no login,
    no role; only allowed to propose. Created on first use."""
    username = f"system-{name}"
    if username not in SYSTEM_PROPOSERS:
        raise ValidationFailed(format_lazy(_("unknown system proposer {name!r}"), name=name))
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, is_staff=False, is_active=True)
        user.set_unusable_password()
        user.save()
    return user


def is_system_proposer(user: Any) -> bool:
    return getattr(user, "username", None) in SYSTEM_PROPOSERS and not user.has_usable_password()


def approval_province(account: FundAccount) -> str:
    """Whose checkers approve debits of ``account``: its province's; for the national fund those
    of the province named by POOLING_NATIONAL_FUND_PROVINCE, or (empty, the default) national
    finance checkers, who have no province and approve nothing else."""
    if account.province is not None:
        return account.province.code
    return str(getattr(settings, "POOLING_NATIONAL_FUND_PROVINCE", ""))


def _acting_for(own: str) -> Any:
    return format_lazy(_("province {code}"), code=own) if own else _("the national level")


def _wrong_checker(account: Any, wanted: str, own: str) -> Any:
    """The refusal of a checker of another province, in the reader's language."""
    approvers = format_lazy(_("finance checkers of province {code}"), code=wanted) if wanted else _("national finance checkers")
    return format_lazy(
        _("debits of {account} are approved by {approvers}, you act for {own}"), account=account, approvers=approvers, own=_acting_for(own)
    )


def _require_checker_for(user: Any, account: FundAccount) -> None:
    if not has_role(user, Role.FINANCE_CHECKER):
        raise Forbidden(_("approving transfers needs the finance_checker role"))
    if getattr(user, "is_superuser", False):
        return
    wanted = approval_province(account)
    own = staff_province(user)
    if own != wanted:
        raise Forbidden(_wrong_checker(account, wanted, own), code="wrong_province")
    require_otp(user)  # a checker who enrolled a TOTP device acts only OTP-verified (403 otp_required)


def _require_maker_for(user: Any, from_account: FundAccount, to_account: FundAccount) -> None:
    if is_system_proposer(user):
        return
    if not has_role(user, Role.FINANCE_MAKER):
        raise Forbidden(_("proposing transfers needs the finance_maker role"))
    if getattr(user, "is_superuser", False):
        return
    # A maker proposes for her own province's accounts; a national maker (no province) for the
    # national fund's. The national fund's province_code is ''.
    own = staff_province(user)
    involved = {a.province_code for a in (from_account, to_account)}
    if own not in involved:
        between = format_lazy(", ".join("{}" for _code in involved), *(code or _("national") for code in sorted(involved)))
        raise Forbidden(
            format_lazy(_("you act for {own}, this transfer is between {between}"), own=_acting_for(own), between=between),
            code="wrong_province",
        )


# --- transfers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    transfer: Transfer
    created: bool


def _fingerprint(*, from_account: FundAccount, to_account: FundAccount, amount_fen: int, memo: str) -> str:
    body = json.dumps(
        {"from_account": from_account.pk, "to_account": to_account.pk, "amount_fen": amount_fen, "memo": memo}, sort_keys=True
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _replay(existing: Transfer, fingerprint: str, key: str) -> Proposal:
    if existing.request_fingerprint != fingerprint:
        raise Conflict(
            format_lazy(_("Idempotency-Key {key!r} was used for transfer #{id} with a different body"), key=key, id=existing.pk),
            code="idempotency_key_conflict",
        )
    return Proposal(existing, False)


def _clean_proposal(from_account: FundAccount, to_account: FundAccount, amount_fen: Any, memo: str, idempotency_key: str) -> int:
    errors = []
    try:
        amount_fen = check_fen(amount_fen)
        if amount_fen <= 0:
            errors.append({"field": "amount_fen", "code": "not_positive", "message": "the amount is a positive number of fen"})
    except MoneyError as exc:
        errors.append({"field": "amount_fen", "code": "invalid", "message": str(exc)})
    if from_account.pk == to_account.pk:
        errors.append({"field": "to_account", "code": "same_account", "message": "a transfer moves money between two different accounts"})
    if len(memo) > 255:
        errors.append({"field": "memo", "code": "max_length", "message": "at most 255 characters"})
    if not idempotency_key or len(idempotency_key) > 128:
        errors.append({"field": "Idempotency-Key", "code": "invalid", "message": "1 to 128 characters"})
    if errors:
        raise ValidationFailed(_("the transfer is not valid"), errors=errors)
    return int(amount_fen)


def transfer_propose_detailed(
    *,
    from_account: FundAccount,
    to_account: FundAccount,
    amount_fen: int,
    memo: str = "",
    proposer: Any,
    idempotency_key: str,
    reverses: Transfer | None = None,
    reason: str = "",
) -> Proposal:
    """Propose a transfer; ``Proposal.created`` is False when the key replays an earlier proposal.
    ``reason`` is the why of the audit event, kept whole (default: the memo).

    Raises ValidationFailed (bad amount, same account, bad key), Forbidden (role, wrong_province),
    Conflict ``account_closed`` (a consolidated regional account), ``idempotency_key_conflict``
    (same key, other body).
    """
    amount_fen = _clean_proposal(from_account, to_account, amount_fen, memo, idempotency_key)
    _require_maker_for(proposer, from_account, to_account)
    closed = [a for a in (from_account, to_account) if a.closed_at is not None]
    if closed:  # a trigger refuses their entries too (migration 0006)
        raise Conflict(
            format_lazy(_("{account} is closed since {date}"), account=closed[0], date=f"{closed[0].closed_at:%Y-%m-%d}"),
            code="account_closed",
        )
    fingerprint = _fingerprint(from_account=from_account, to_account=to_account, amount_fen=amount_fen, memo=memo)
    with transaction.atomic():
        existing = Transfer.objects.filter(proposed_by=proposer, idempotency_key=idempotency_key).first()
        if existing is not None:
            return _replay(existing, fingerprint, idempotency_key)
        if not is_system_proposer(proposer):
            _refuse_overdraft_at_proposal(from_account, amount_fen)
        transfer = Transfer(
            from_account=from_account,
            to_account=to_account,
            amount_fen=amount_fen,
            memo=memo,
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
            proposed_by=proposer,
            reverses=reverses,
        )
        try:
            with transaction.atomic():
                history_save(transfer, user=proposer, reason="proposed")
        except IntegrityError:
            # A concurrent request with the same key won the insert: answer as its replay.
            existing = Transfer.objects.filter(proposed_by=proposer, idempotency_key=idempotency_key).first()
            if existing is None:
                raise
            return _replay(existing, fingerprint, idempotency_key)
        _audit_transfer(
            transfer,
            action=AuditAction.TRANSFER_REVERSAL_PROPOSED if reverses is not None else AuditAction.TRANSFER_PROPOSED,
            user=proposer,
            reason=reason or memo,
        )
        transaction.on_commit(lambda: _notify_checkers(transfer.pk), robust=True)
        return Proposal(transfer, True)


def _refuse_overdraft_at_proposal(account: FundAccount, amount_fen: int) -> None:
    """A person's proposal may not promise more than the debited account can still pay (its
    balance and overdraft limit less what earlier proposals already claim): 409
    ``insufficient_funds`` now rather than at approval. The account row is locked, so two
    proposals racing for the last yuan are serialised. Processes (reconciliation, risk
    adjustment, advances) propose what is owed and are checked at approval, as everyone is."""
    account = FundAccount.objects.select_for_update().get(pk=account.pk)
    available = selectors.account_available_fen(account=account)
    if available is not None and amount_fen > available:
        raise Conflict(
            format_lazy(
                _(
                    "{account} can pay {available} (balance {balance}, overdraft limit {limit}, less transfers waiting "
                    "for approval); {amount} is more"
                ),
                account=account,
                available=format_yuan(max(available, 0)),
                balance=format_yuan(account.balance_fen),
                limit=format_yuan(account.overdraft_limit_fen),
                amount=format_yuan(amount_fen),
            ),
            code="insufficient_funds",
        )


def _notify_checkers(transfer_id: int) -> None:
    """After the proposal commits: a transfer still proposed awaits a finance_checker of the
    debited account's province (national checkers for the national fund), who gets one mail
    (``transfer.proposed:<id>``); the proposer never. Fund income, proposed and approved in
    one transaction, is posted by then and mails nobody."""
    with transaction.atomic():
        transfer = (
            Transfer.objects.select_related("from_account__province", "to_account", "proposed_by")
            .filter(pk=transfer_id, state=Transfer.State.PROPOSED)
            .first()
        )
        if transfer is None:
            return
        facts = {
            "id": transfer.pk,
            "amount": format_yuan(transfer.amount_fen),
            "source": transfer.from_account.name,
            "target": transfer.to_account.name,
            "proposer": transfer.proposed_by.get_username(),
            "memo": transfer.memo,
            "url": portal_url(reverse("admin:pooling_transfer_change", args=[transfer.pk])),
        }
        with mail_language():
            subject = gettext("Transfer #%(id)s of %(amount)s awaits your approval") % facts
            body = (
                gettext(
                    "%(proposer)s proposed moving %(amount)s from %(source)s to %(target)s (%(memo)s).\nApprove or reject it: %(url)s\n"
                )
                % facts
            )
        awaiting_approval_notify(
            key=f"transfer.proposed:{transfer.pk}",
            roles=[Role.FINANCE_CHECKER],
            province=transfer.from_account.province_code,
            exclude=[transfer.proposed_by],
            subject=subject,
            body=body,
        )


def transfer_propose(
    *, from_account: FundAccount, to_account: FundAccount, amount_fen: int, memo: str = "", proposer: Any, idempotency_key: str
) -> Transfer:
    """Propose a transfer (idempotent per proposer and key); see transfer_propose_detailed."""
    return transfer_propose_detailed(
        from_account=from_account,
        to_account=to_account,
        amount_fen=amount_fen,
        memo=memo,
        proposer=proposer,
        idempotency_key=idempotency_key,
    ).transfer


def _lock(transfer: Transfer) -> Transfer:
    """Lock the transfer row (only that row: the accounts are locked later, in key order)."""
    locked = (
        Transfer.objects.select_for_update(of=("self",))
        .select_related("from_account__province", "to_account__province")
        .filter(pk=transfer.pk)
        .first()
    )
    if locked is None:
        raise NotFound(format_lazy(_("no transfer #{id}"), id=transfer.pk))
    return locked


def _audit_transfer(transfer: Transfer, *, action: AuditAction, user: Any, reason: str = "") -> None:
    """The transfer's audit event, filed under the debited account's province (national: '')."""
    audit_record(
        action=action,
        actor=user,
        obj=transfer,
        province=transfer.from_account.province_code,
        reason=reason,
        detail={
            "amount_fen": transfer.amount_fen,
            "from_account": transfer.from_account_id,
            "to_account": transfer.to_account_id,
            "from_province": transfer.from_account.province_code,
            "to_province": transfer.to_account.province_code,
            "reverses": transfer.reverses_id,
        },
    )


def _not_proposed(pk: Any, state: str) -> Any:
    label = State(state).label if state in State.values else state
    if state == State.POSTED:
        return format_lazy(
            _("transfer #{id} is {state}, not proposed; undo a posted transfer with a reversing transfer"), id=pk, state=label
        )
    return format_lazy(_("transfer #{id} is {state}, not proposed"), id=pk, state=label)


def _ensure_proposed(transfer: Transfer) -> None:
    if transfer.state != State.PROPOSED:
        raise Conflict(_not_proposed(transfer.pk, transfer.state), code="transfer_not_proposed")


def transfer_approve(*, transfer: Transfer, approver: Any, reason: str = "") -> Transfer:
    """Approve a proposed transfer and post it in the same transaction.

    Order of refusals: the proposer → 409 same_user_cannot_approve; not a finance_checker →
    403 permission_denied; checker of another province than the debited account's → 403
    wrong_province; a checker with a TOTP device whose request is not OTP-verified → 403
    otp_required; not proposed → 409 transfer_not_proposed; overdraft → 409 insufficient_funds.
    ``reason`` (optional) is the approver's why, kept whole on the audit event.

    One database call does it all (``pooling_approve_and_post``, migrations 0009 and 0014; it
    also creates the month's ledger partition on first use): under the transfer's row lock it
    makes the refusals in this order (the facts about the user, which need no row, are passed
    in), locks both accounts in primary-key order, checks the overdraft under those locks, then
    moves the transfer from proposed to posted in one UPDATE, writes the two entries (a
    statement trigger checks them and moves the balances, the only way ``balance_fen`` changes;
    a deferred constraint trigger proves the posted transfer balanced at commit), a history row
    per step (approved, posted) and the one audit event: one round trip instead of about
    fourteen statements. That one statement is the transaction (or joins the caller's): outside
    an atomic block it commits by itself, so no BEGIN and COMMIT round trips are paid around it,
    and a refusal has written nothing.
    """
    profile = getattr(approver, "staff_profile", None)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            sql.APPROVE_AND_POST_SQL,
            [
                transfer.pk,
                getattr(approver, "pk", None),
                str(approver.get_username())[:150] if getattr(approver, "pk", None) else "system",
                has_role(approver, Role.FINANCE_CHECKER),
                bool(getattr(approver, "is_superuser", False)),
                staff_province(approver),
                str(getattr(settings, "POOLING_NATIONAL_FUND_PROVINCE", "")),
                # Only checkers enrol for OTP (apps.core.otp.otp_required); the function asks
                # whether this one has a confirmed device.
                profile is None or profile.role != Role.FINANCE_CHECKER or otp_verified(approver),
                str(AuditAction.TRANSFER_POSTED),
                now,
                reason,
                str(State.POSTED.label),
            ],
        )
        outcome, state, balance_fen, limit_fen, account_name, wanted = cursor.fetchone()
    if outcome == "not_found":
        raise NotFound(format_lazy(_("no transfer #{id}"), id=transfer.pk))
    if outcome == "same_user_cannot_approve":
        raise Conflict(_("the proposer of a transfer cannot approve it"), code="same_user_cannot_approve")
    if outcome == "permission_denied":
        raise Forbidden(_("approving transfers needs the finance_checker role"))
    if outcome == "wrong_province":
        own = staff_province(approver)
        raise Forbidden(_wrong_checker(account_name, wanted, own), code="wrong_province")
    if outcome == "otp_required":
        require_otp(approver)  # 403 otp_required with the one message
        raise Forbidden(_("approve from an OTP-verified session"), code="otp_required")  # the device went meanwhile
    if outcome == "transfer_not_proposed":
        raise Conflict(_not_proposed(transfer.pk, state), code="transfer_not_proposed")
    if outcome == "insufficient_funds":
        if transfer.amount_fen is None:
            transfer.refresh_from_db()
        raise Conflict(
            format_lazy(
                _("transfer #{id}: {account} holds {balance} (overdraft limit {limit}), cannot pay {amount}"),
                id=transfer.pk,
                account=account_name,
                balance=format_yuan(balance_fen),
                limit=format_yuan(limit_fen),
                amount=format_yuan(transfer.amount_fen),
            ),
            code="insufficient_funds",
        )
    if outcome != "posted":
        raise RuntimeError(f"pooling_approve_and_post returned {outcome!r}")
    # The body of a transfer never changes (pooling_transfer_guard): a caller's loaded instance
    # needs only the fields the call set; a bare reference is read whole.
    if transfer.from_account_id is None or transfer.amount_fen is None:
        transfer.refresh_from_db()
    else:
        transfer.state = State.POSTED
        transfer.approved_by = approver
        transfer.approved_at = transfer.posted_at = now
    return transfer


def _close(transfer: Transfer, *, user: Any, state: str, reason: str, action: AuditAction) -> Transfer:
    """End a proposed transfer without posting it (rejected or voided), recording who and why."""
    transfer.state = state
    transfer.closed_by = user
    transfer.closed_at = timezone.now()
    transfer.reason = reason
    history_save(transfer, user=user, reason=f"{state}: {reason}")
    _audit_transfer(transfer, action=action, user=user, reason=reason)
    return transfer


@transaction.atomic
def transfer_reject(*, transfer: Transfer, user: Any, reason: str) -> Transfer:
    """A checker of the debited account's province refuses a proposed transfer, saying why."""
    transfer = _lock(transfer)
    if transfer.proposed_by_id == getattr(user, "pk", None):
        raise Conflict(_("the proposer of a transfer cannot review it (void it instead)"), code="same_user_cannot_approve")
    _require_checker_for(user, transfer.from_account)
    require_reason(reason, detail=_("a rejection needs a reason"))
    _ensure_proposed(transfer)
    return _close(transfer, user=user, state=State.REJECTED, reason=reason, action=AuditAction.TRANSFER_REJECTED)


@transaction.atomic
def transfer_void(*, transfer: Transfer, user: Any, reason: str) -> Transfer:
    """Cancel a transfer before it is posted: by its proposer or a checker of the debited
    account's province. A posted transfer is 409 transfer_not_proposed: reverse it instead."""
    transfer = _lock(transfer)
    if transfer.proposed_by_id != getattr(user, "pk", None):
        _require_checker_for(user, transfer.from_account)
    require_reason(reason, detail=_("voiding needs a reason"))
    _ensure_proposed(transfer)
    return _close(transfer, user=user, state=State.VOIDED, reason=reason, action=AuditAction.TRANSFER_VOIDED)


REVERSAL_LIVE_STATES = (State.PROPOSED, State.APPROVED, State.POSTED)


@transaction.atomic
def transfer_reverse(*, transfer: Transfer, user: Any, reason: str) -> Transfer:
    """Propose the transfer that undoes a posted one (same amount, opposite direction); it needs
    approval like any other. A transfer is reversed at most once: a rejected or voided reversal
    leaves it reversible again, a proposed, approved or posted one does not.

    Order of refusals: not a finance_maker of one of the two provinces → 403 permission_denied /
    wrong_province (first, so a caller without the right learns nothing of the transfer's state);
    not posted → 409 transfer_not_posted; no reason → 400 validation_error; a live reversal
    exists → 409 transfer_already_reversed. The check runs under the transfer's row lock, so two
    makers racing are serialised; the partial unique index ``transfer_reversed_at_most_once``
    refuses a second live reversal written by any other path.
    """
    _require_maker_for(user, transfer.to_account, transfer.from_account)
    transfer = _lock(transfer)
    if transfer.state != State.POSTED:
        raise Conflict(
            format_lazy(
                _("transfer #{id} is {state}; only posted transfers are reversed"), id=transfer.pk, state=State(transfer.state).label
            ),
            code="transfer_not_posted",
        )
    require_reason(reason, detail=_("a reversal needs a reason"))
    earlier = list(transfer.reversals.order_by("pk").values_list("pk", "state"))
    live = [(pk, state) for pk, state in earlier if state in REVERSAL_LIVE_STATES]
    if live:
        raise Conflict(
            format_lazy(
                _("transfer #{id} is already reversed by #{by} ({state})"), id=transfer.pk, by=live[0][0], state=State(live[0][1]).label
            ),
            code="transfer_already_reversed",
        )
    try:
        with transaction.atomic():
            proposal = transfer_propose_detailed(
                from_account=transfer.to_account,
                to_account=transfer.from_account,
                amount_fen=transfer.amount_fen,
                memo=f"reversal of #{transfer.pk}: {reason}"[:255],
                proposer=user,
                # One key per attempt: after a rejected reversal the same maker may propose anew
                # instead of being handed the rejected one as an idempotent replay.
                idempotency_key=f"reversal:{transfer.pk}:{len(earlier) + 1}",
                reverses=transfer,
                reason=reason,
            )
    except IntegrityError as exc:  # the partial unique index, should the lock ever be bypassed
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != "transfer_reversed_at_most_once":
            raise
        raise Conflict(format_lazy(_("transfer #{id} is already reversed"), id=transfer.pk), code="transfer_already_reversed") from exc
    if not proposal.created:  # the key was taken by hand for another proposal: never hand that back
        raise Conflict(
            format_lazy(
                _("Idempotency-Key reversal:{id}:{n} is in use by transfer #{other}"),
                id=transfer.pk,
                n=len(earlier) + 1,
                other=proposal.transfer.pk,
            ),
            code="idempotency_key_conflict",
        )
    return proposal.transfer


TRANSFER_ACTIONS = ("approve", "reject", "void", "reverse")


def transfer_actions_for(*, transfer: Transfer, user: Any) -> list[str]:
    """Which of approve, reject, void and reverse ``user`` may take on ``transfer`` now (Wagtail's
    check before execute: a page offers only these). Each runs the refusal order of its action
    up to the state check; the action checks everything again, under its locks, when it runs
    (an overdraft is found only then)."""
    uid = getattr(user, "pk", None)
    allowed = []

    def passes(*checks: Any) -> bool:
        try:
            for check in checks:
                check()
        except DomainError:
            return False
        return True

    if transfer.state == State.PROPOSED:
        if transfer.proposed_by_id != uid and passes(lambda: _require_checker_for(user, transfer.from_account)):
            allowed += ["approve", "reject"]
        if transfer.proposed_by_id == uid or passes(lambda: _require_checker_for(user, transfer.from_account)):
            allowed.append("void")
    if (
        transfer.state == State.POSTED
        and passes(lambda: _require_maker_for(user, transfer.to_account, transfer.from_account))
        and not transfer.reversals.filter(state__in=REVERSAL_LIVE_STATES).exists()
    ):
        allowed.append("reverse")
    return allowed


# --- money entering the ledger -----------------------------------------------------------------


@transaction.atomic
def fund_income_record(
    *, province_code: str, region_code: str = "", amount_fen: int, proposer: Any, approver: Any, memo: str = "", idempotency_key: str
) -> Transfer:
    """Fund income enters the ledger from the province's external account into its provincial
    (or, with ``region_code``, regional) fund: proposed by ``proposer``, approved by ``approver``;
    all or nothing (a refused approval leaves no proposal behind)."""
    external = FundAccount.objects.select_related("province").filter(kind=Kind.EXTERNAL, province__code=province_code).first()
    if external is None:
        raise NotFound(format_lazy(_("no province {province_code}"), province_code=province_code), code="province_unknown")
    if region_code:
        target = FundAccount.objects.select_related("province").filter(kind=Kind.REGIONAL, region__code=region_code).first()
        if target is None or target.province_id != external.province_id:
            raise NotFound(
                format_lazy(
                    _("no pooling-region fund {region_code} in province {province_code}"),
                    region_code=region_code,
                    province_code=province_code,
                ),
                code="region_unknown",
            )
    else:
        target = FundAccount.objects.select_related("province").get(kind=Kind.PROVINCIAL, province=external.province)
    transfer = transfer_propose(
        from_account=external,
        to_account=target,
        amount_fen=amount_fen,
        memo=memo or "fund income",
        proposer=proposer,
        idempotency_key=idempotency_key,
    )
    if transfer.state == State.POSTED:
        return transfer
    return transfer_approve(transfer=transfer, approver=approver)


# --- provincial pooling: who acts, periods --------------------------------------------------------

PERIOD = re.compile(PERIOD_PATTERN)
FIGURES_IMPORT_JOB = "pooling.figures_import"
ADJUSTMENT_JOB = "pooling.adjustment_run"


def check_period(period: Any, *, field: str = "period") -> str:
    """A month as ``YYYY-MM`` (400 validation_error otherwise)."""
    if not isinstance(period, str) or not PERIOD.match(period):
        raise ValidationFailed(
            _("period is YYYY-MM"), errors=[{"field": field, "code": "invalid", "message": f"{period!r} is not YYYY-MM"}]
        )
    return period


def previous_period(today: dt.date) -> str:
    last = today.replace(day=1) - dt.timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


def _require_finance(user: Any, *roles: str, province_code: str) -> None:
    """``user`` holds one of ``roles`` and acts for ``province_code`` (users without a province
    act for all); None is a process (beat, a system proposer). Role first, then province."""
    if user is None or is_system_proposer(user):
        return
    require_role(user, *roles)
    require_province(user, province_code)


def _require_national_finance(user: Any, *roles: str) -> None:
    """National work (the national fund's adjustment): finance users without a province."""
    if user is None or is_system_proposer(user):
        return
    require_role(user, *roles)
    if not getattr(user, "is_superuser", False) and staff_province(user):
        raise Forbidden(_("national adjustment runs are started by finance users without a province"))


def _lock_key(name: str) -> None:
    """Serialise work on one key (a period's run of one scope) for the rest of the transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])


# --- region figures -------------------------------------------------------------------------------


def _figures_errors(
    *, fund_income_fen: Any, fund_expenditure_fen: Any, cross_regional_fen: Any, active_insured: Any, retirees: Any
) -> list[dict[str, Any]]:
    errors = []
    for name, value in (
        ("fund_income_fen", fund_income_fen),
        ("fund_expenditure_fen", fund_expenditure_fen),
        ("cross_regional_fen", cross_regional_fen),
    ):
        try:
            if check_fen(value) < 0:
                errors.append({"field": name, "code": "negative", "message": "fen ≥ 0"})
        except MoneyError as exc:
            errors.append({"field": name, "code": "invalid", "message": str(exc)})
    for name, value in (("active_insured", active_insured), ("retirees", retirees)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 2**31 - 1:
            errors.append({"field": name, "code": "invalid", "message": "a whole number of people, ≥ 0"})
    if not errors and cross_regional_fen > fund_expenditure_fen:
        errors.append({"field": "cross_regional_fen", "code": "over_expenditure", "message": "part of the expenditure, not more"})
    return errors


@transaction.atomic
def region_figures_put(
    *,
    region: PoolingRegion | None = None,
    province: Province | None = None,
    period: str,
    fund_income_fen: int,
    fund_expenditure_fen: int,
    active_insured: int,
    retirees: int,
    cross_regional_fen: int = 0,
    user: Any,
) -> RegionPeriodFigures:
    """Enter (or correct) one region's figures for a period (YYYY-MM); without ``region``, the
    figures of ``province``'s own fund (municipalities, unified provinces).

    Raises Forbidden (not a finance_maker; another province: wrong_province), ValidationFailed
    (period, negative or malformed amounts and counts, cross-regional above expenditure)."""
    if region is not None:
        province = region.province
    if province is None:
        raise ValidationFailed(
            _("figures belong to a region or a province"), errors=[{"field": "region", "code": "required", "message": ""}]
        )
    _require_finance(user, Role.FINANCE_MAKER, province_code=province.code)
    check_period(period)
    errors = _figures_errors(
        fund_income_fen=fund_income_fen,
        fund_expenditure_fen=fund_expenditure_fen,
        cross_regional_fen=cross_regional_fen,
        active_insured=active_insured,
        retirees=retirees,
    )
    if errors:
        raise ValidationFailed(_("the figures are not valid"), errors=errors)
    figures = RegionPeriodFigures.objects.select_for_update().filter(province=province, region=region, period=period).order_by("pk").first()
    figures = figures or RegionPeriodFigures(province=province, region=region, period=period)
    figures.fund_income_fen = fund_income_fen
    figures.fund_expenditure_fen = fund_expenditure_fen
    figures.cross_regional_fen = cross_regional_fen
    figures.active_insured = active_insured
    figures.retirees = retirees
    figures.entered_by = user if getattr(user, "pk", None) else None
    history_save(figures, user=figures.entered_by, reason="figures entered")
    audit_record(
        action=AuditAction.REGION_FIGURES_ENTERED,
        actor=user,
        obj=figures,
        province=province.code,
        detail={
            "region": region.code if region is not None else "",
            "period": period,
            "fund_income_fen": fund_income_fen,
            "fund_expenditure_fen": fund_expenditure_fen,
            "cross_regional_fen": cross_regional_fen,
            "active_insured": active_insured,
            "retirees": retirees,
        },
    )
    budget_alerts_check(province_codes=[province.code], year=int(period[:4]))
    return figures


FIGURES_COLUMNS = ("region_code", "period", "fund_income_fen", "fund_expenditure_fen", "active_insured", "retirees")
FIGURES_OPTIONAL = ("cross_regional_fen",)
FIGURES_MAX_ROWS = 100_000
_FEN_TEXT = re.compile(r"^[0-9]{1,19}$")
_COUNT_TEXT = re.compile(r"^[0-9]{1,10}$")


def _decode(data: bytes) -> str:
    encoding = detect_encoding(data[:SNIFF_BYTES])
    body = data[encoding.skip :]
    try:
        return body.decode(encoding.python)
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise encoding_error(line, format_lazy(_("line {line} is not valid {label}"), line=line, label=encoding.label)) from None


def _parse_figures(text: str, *, own_province: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of a figures CSV as dicts ready to write, and every error (line, column, code)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return [], [row_error(line=1, column="", code="missing_field", message=_("the file is empty: a header row is expected"))]
    errors = header_errors(header, allowed=FIGURES_COLUMNS + FIGURES_OPTIONAL, required=FIGURES_COLUMNS)
    if errors:
        return [], errors
    regions = {r.code: r for r in PoolingRegion.objects.select_related("province")}
    provinces = {p.code: p for p in Province.objects.all()}
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    line = 1
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(rows) >= FIGURES_MAX_ROWS:
            errors.append(
                row_error(
                    line=line,
                    column="",
                    code="too_many_rows",
                    message=format_lazy(_("at most {FIGURES_MAX_ROWS:,} rows per file"), FIGURES_MAX_ROWS=FIGURES_MAX_ROWS),
                )
            )
            break
        if len(record) != len(header):
            errors.append(
                row_error(
                    line=line,
                    column="",
                    code="column_count",
                    message=format_lazy(_("{count} fields, the header has {columns}"), count=len(record), columns=len(header)),
                )
            )
            continue
        cells = dict(zip(header, record, strict=True))
        row_errors = len(errors)
        code = normalise_code(cells["region_code"])
        region = regions.get(code)
        province = region.province if region is not None else provinces.get(code) if code.endswith("0000") else None
        if province is None:
            errors.append(
                row_error(
                    line=line,
                    column="region_code",
                    code="unknown_region",
                    message=format_lazy(_("{code!r} is no pooling region or province"), code=code),
                )
            )
        elif own_province and province.code != own_province:
            errors.append(
                row_error(
                    line=line,
                    column="region_code",
                    code="wrong_province",
                    message=format_lazy(
                        _("{code} belongs to {province}, you act for {own_province}"),
                        code=code,
                        province=province.code,
                        own_province=own_province,
                    ),
                )
            )
        period = normalise_code(cells["period"])
        if not PERIOD.match(period):
            errors.append(
                row_error(
                    line=line,
                    column="period",
                    code="period_format",
                    message=format_lazy(_("{period!r} is not YYYY-MM"), period=cells["period"]),
                )
            )
        values: dict[str, int] = {}
        for name in ("fund_income_fen", "fund_expenditure_fen", "cross_regional_fen"):
            raw = cells.get(name, "0").strip() or ("0" if name == "cross_regional_fen" else "")
            if not _FEN_TEXT.match(raw) or int(raw) > 2**63 - 1:
                errors.append(
                    row_error(
                        line=line, column=name, code="money_format", message=format_lazy(_("{raw!r}: whole fen, digits only, ≥ 0"), raw=raw)
                    )
                )
            else:
                values[name] = int(raw)
        for name in ("active_insured", "retirees"):
            raw = cells[name].strip()
            if not _COUNT_TEXT.match(raw) or int(raw) > 2**31 - 1:
                errors.append(
                    row_error(
                        line=line, column=name, code="count_format", message=format_lazy(_("{raw!r}: a whole number of people"), raw=raw)
                    )
                )
            else:
                values[name] = int(raw)
        if len(errors) == row_errors and values["cross_regional_fen"] > values["fund_expenditure_fen"]:
            errors.append(
                row_error(
                    line=line,
                    column="cross_regional_fen",
                    code="over_expenditure",
                    message=_("cross-regional spending is part of the expenditure"),
                )
            )
        if len(errors) == row_errors:
            key = (code, period)
            if key in seen:
                errors.append(
                    row_error(
                        line=line,
                        column="region_code",
                        code="duplicate_row",
                        message=format_lazy(_("{code} {period} is on line {line} too"), code=code, period=period, line=seen[key]),
                    )
                )
                continue
            seen[key] = line
            assert province is not None
            rows.append({"line": line, "province": province, "region": region, "period": period, **values})
    return rows, errors


def figures_import(*, file: IO[bytes], user: Any, job: Job | None = None, filename: str = "") -> dict[str, Any]:
    """Import region figures from CSV (``region_code,period,fund_income_fen,fund_expenditure_fen,
    active_insured,retirees[,cross_regional_fen]``; a province code stands for the province's own
    fund). All or nothing: any bad row raises BulkFileRejected listing every bad row
    ``{line, column, code, message}`` and nothing is written. A province-bound maker imports
    her own province's rows only (``wrong_province``). Rows equal to what is stored change
    nothing; changed and new rows get a history row naming the file. One audit event."""
    own = "" if user is None or getattr(user, "is_superuser", False) else staff_province(user)
    if user is not None:
        require_role(user, Role.FINANCE_MAKER)
    rows, errors = _parse_figures(_decode(file.read()), own_province=own)
    if errors:
        raise BulkFileRejected(
            format_lazy(_("{count} error(s) in the figures file; nothing was imported"), count=len(errors)), errors=errors
        )
    if not rows:
        raise BulkFileRejected(
            _("the figures file has no rows"), errors=[row_error(line=2, column="", code="missing_field", message=_("no rows"))]
        )
    reason = f"imported from {PurePath(filename).name or 'a file'}" + (f" (job #{job.pk})" if job else "")
    author = user if getattr(user, "pk", None) else None
    fields = ["fund_income_fen", "fund_expenditure_fen", "cross_regional_fen", "active_insured", "retirees"]
    with transaction.atomic():
        stored = {
            (f.province_id, f.region_id, f.period): f
            for f in RegionPeriodFigures.objects.select_for_update().filter(period__in={r["period"] for r in rows}).order_by("pk")
        }
        new, changed = [], []
        for row in rows:
            region = row["region"]
            figures = stored.get((row["province"].pk, region.pk if region else None, row["period"]))
            if figures is None:
                new.append(
                    RegionPeriodFigures(
                        province=row["province"], region=region, period=row["period"], entered_by=author, **{k: row[k] for k in fields}
                    )
                )
            elif any(getattr(figures, k) != row[k] for k in fields):
                for k in fields:
                    setattr(figures, k, row[k])
                figures.entered_by = author
                changed.append(figures)
        if new:
            bulk_create_with_history(new, RegionPeriodFigures, default_user=author, default_change_reason=reason)
        if changed:
            bulk_update_with_history(
                changed, RegionPeriodFigures, [*fields, "entered_by"], default_user=author, default_change_reason=reason
            )
        periods = sorted({r["period"] for r in rows})
        result = {
            "rows": len(rows),
            "created": len(new),
            "updated": len(changed),
            "unchanged": len(rows) - len(new) - len(changed),
            "periods": periods,
        }
        audit_record(
            action=AuditAction.REGION_FIGURES_IMPORTED,
            actor=user,
            object_type=RegionPeriodFigures._meta.label_lower,
            object_id=job.pk if job else "",
            province=own,
            reason=reason,
            detail={**result, "filename": PurePath(filename).name},
        )
        for year in sorted({int(p[:4]) for p in periods}):
            budget_alerts_check(province_codes=sorted({r["province"].code for r in rows}), year=year)
    return result


def figures_import_enqueue(*, upload: Any, user: Any) -> Job:
    """Store an uploaded figures file and queue its import (API, admin): finance_maker only."""
    require_role(user, Role.FINANCE_MAKER)
    own = "" if getattr(user, "is_superuser", False) else staff_province(user)
    return job_enqueue(kind=FIGURES_IMPORT_JOB, user=user, upload=upload, province=own)


def figures_import_job_handler(job: Job) -> dict[str, Any]:
    with default_storage.open(job.params["path"], "rb") as file:
        return figures_import(file=file, user=job.created_by, job=job, filename=job.params.get("filename", ""))


# --- risk adjustment runs ---------------------------------------------------------------------------


@transaction.atomic
def adjustment_rule_save(*, rule: AdjustmentRule, user: Any, reason: str = "") -> AdjustmentRule:
    """Save a province's adjustment rule (a finance user of that province) or the national rule
    (``province`` empty: finance users without a province only), with history and one event.
    Runs record the rule they used, so a rule in use is changed by adding one with a later
    ``effective_from`` rather than by editing it (409 ``rule_in_use``)."""
    if rule.province_id is None:
        _require_national_finance(user, Role.FINANCE_MAKER, Role.FINANCE_CHECKER)
    else:
        _require_finance(user, Role.FINANCE_MAKER, Role.FINANCE_CHECKER, province_code=rule.province.code)  # type: ignore[union-attr]
    if rule.pk is not None and AdjustmentRun.objects.filter(rule_id=rule.pk).exists():
        raise Conflict(
            format_lazy(_("{rule} was used by a run: add a rule with a later effective date instead"), rule=rule), code="rule_in_use"
        )
    history_save(rule, user=user, reason=reason or "rule saved")
    audit_record(
        action=AuditAction.ADJUSTMENT_RULE_SAVED,
        actor=user,
        obj=rule,
        province=rule.province.code if rule.province is not None else "",
        reason=reason,
        detail={
            "contribution_share": str(rule.contribution_share),
            "allocation_share": str(rule.allocation_share),
            "weight_dependency": str(rule.weight_dependency),
            "weight_deficit": str(rule.weight_deficit),
            "effective_from": str(rule.effective_from),
            "effective_to": str(rule.effective_to) if rule.effective_to else None,
        },
    )
    return rule


def _unit_accounts(*, province: Province | None, codes: list[str]) -> tuple[FundAccount, dict[str, FundAccount]]:
    """The pool's account and each unit's account: the provincial fund and its regional funds,
    or (national level) the national fund and the provincial funds."""
    accounts_ensure()
    accounts = FundAccount.objects.select_related("province", "region")
    if province is None:
        pool = accounts.get(kind=Kind.NATIONAL)
        units = {a.province_code: a for a in accounts.filter(kind=Kind.PROVINCIAL, province__code__in=codes)}
    else:
        pool = accounts.get(kind=Kind.PROVINCIAL, province=province)
        units = {a.region.code: a for a in accounts.filter(kind=Kind.REGIONAL, region__code__in=codes) if a.region is not None}
    missing = sorted(set(codes) - set(units))
    if missing:
        raise Conflict(format_lazy(_("no open fund account for {names}"), names=", ".join(missing[:10])), code="unit_account_missing")
    return pool, units


def _check_run_permission(*, province: Province | None, user: Any) -> None:
    if province is None:
        _require_national_finance(user, Role.FINANCE_MAKER, Role.FINANCE_CHECKER)
    else:
        _require_finance(user, Role.FINANCE_MAKER, Role.FINANCE_CHECKER, province_code=province.code)


@transaction.atomic
def adjustment_run(
    *, period: str, province: Province | None = None, user: Any = None, job: Job | None = None
) -> tuple[AdjustmentRun, bool]:
    """Run the risk adjustment of ``period``: regions ↔ ``province``'s fund, or without a
    province provinces ↔ the national fund. Returns (run, created).

    Contributions and allocations (adjustment.plan) become *proposed* transfers by the
    ``system-adjustment`` proposer, each keyed by scope, period, the inputs' fingerprint,
    direction and unit: a rerun on the same rule and figures returns the same run and proposes
    nothing new. A rerun on corrected figures voids the earlier run's unapproved proposals and
    proposes anew; if some were already posted it is 409 ``adjustment_already_posted`` (reverse
    them first: posted money is never redone silently).

    Raises Forbidden (role; another province: wrong_province; national level: province-bound
    users), ValidationFailed (period), Conflict ``province_unified`` (no regional funds to
    adjust), NotFound ``rule_unknown`` / ``figures_missing``.
    """
    check_period(period)
    _check_run_permission(province=province, user=user)
    scope = province.code if province is not None else "national"
    _lock_key(f"pooling.adjustment:{scope}:{period}")
    if province is not None and province.pooling_model == Province.PoolingModel.UNIFIED:
        raise Conflict(
            format_lazy(_("{province} collects and spends as one fund: no regional adjustment"), province=province), code="province_unified"
        )
    rule, units = selectors.adjustment_inputs(period=period, province=province)
    parameters = adjustment.RuleParameters(
        contribution_share=rule.contribution_share,
        allocation_share=rule.allocation_share,
        weight_dependency=rule.weight_dependency,
        weight_deficit=rule.weight_deficit,
    )
    fingerprint = adjustment.inputs_fingerprint(units, parameters, rule_id=rule.pk)
    runs = AdjustmentRun.objects.select_for_update().filter(period=period, province=province, state=AdjustmentRun.State.SUCCEEDED)
    live = runs.first()
    if live is not None and live.inputs_fingerprint == fingerprint:
        return live, False
    proposer = system_proposer(name="adjustment")
    if live is not None:
        _supersede(live, proposer=proposer)
    plan = adjustment.plan(units, parameters)
    pool, unit_accounts = _unit_accounts(province=province, codes=[u.code for u in units])
    run = AdjustmentRun(
        level=AdjustmentRun.Level.NATIONAL if province is None else AdjustmentRun.Level.PROVINCIAL,
        province=province,
        period=period,
        rule=rule,
        inputs_fingerprint=fingerprint,
        formula=adjustment.FORMULA,
        parameters={**parameters.as_dict(), "rule": rule.pk, "effective_from": rule.effective_from.isoformat()},
        contributions_fen=plan.contributions_fen,
        pot_fen=plan.pot_fen,
        allocations_fen=plan.allocations_fen,
        started_by=user if getattr(user, "pk", None) and not is_system_proposer(user) else None,
        job=job,
    )
    history_save(run, user=run.started_by, reason="run")
    rows, transfer_ids = [], []
    share = f"{parameters.contribution_share * 100:.2f}%"
    for unit in plan.units:
        row = unit.as_dict()
        code, account = unit.figures.code, unit_accounts[unit.figures.code]
        key = f"adjustment:{scope}:{period}:{fingerprint[:12]}"
        legs = (
            (
                "contribution",
                unit.contribution_fen,
                account,
                pool,
                f"{period} risk adjustment: {code} pays {share} of fund income to {scope}",
            ),
            (
                "allocation",
                unit.allocation_fen,
                pool,
                account,
                f"{period} risk adjustment: {scope} allocates to {code} (weight {row['weight']})",
            ),
        )
        for leg, amount, source, target, memo in legs:
            row[f"{leg}_transfer"] = None
            if amount <= 0:
                continue
            transfer = transfer_propose_detailed(
                from_account=source,
                to_account=target,
                amount_fen=amount,
                memo=memo,
                proposer=proposer,
                idempotency_key=f"{key}:{leg}:{code}",
                reason=f"risk adjustment run #{run.pk}",
            ).transfer
            row[f"{leg}_transfer"] = transfer.pk
            transfer_ids.append(transfer.pk)
        rows.append(row)
    run.rows, run.transfer_ids = rows, transfer_ids
    history_save(run, user=run.started_by, reason="proposed", update_fields=["rows", "transfer_ids"])
    audit_record(
        action=AuditAction.ADJUSTMENT_PROPOSED,
        actor=run.started_by,
        obj=run,
        province=province.code if province is not None else "",
        detail={
            "level": run.level,
            "period": period,
            "units": len(rows),
            "contributions_fen": plan.contributions_fen,
            "pot_fen": plan.pot_fen,
            "allocations_fen": plan.allocations_fen,
            "transfers": len(transfer_ids),
            "superseded": live.pk if live is not None else None,
        },
    )
    return run, True


def _supersede(run: AdjustmentRun, *, proposer: Any) -> None:
    """Retire a run whose inputs changed: void its unapproved proposals; refuse when money moved."""
    earlier = list(Transfer.objects.select_related("from_account__province", "to_account__province").filter(pk__in=run.transfer_ids))
    moved = sorted(t.pk for t in earlier if t.state in (State.APPROVED, State.POSTED))
    if moved:
        raise Conflict(
            format_lazy(
                _(
                    "the figures or the rule changed after run #{id}, whose transfers {names} are already posted: reverse them first, then run again"
                ),
                id=run.pk,
                names=", ".join(f"#{pk}" for pk in moved[:20]),
            ),
            code="adjustment_already_posted",
        )
    for transfer in earlier:
        if transfer.state == State.PROPOSED:
            transfer_void(transfer=transfer, user=proposer, reason=f"superseded: the inputs of risk adjustment run #{run.pk} changed")
    run.state = AdjustmentRun.State.SUPERSEDED
    history_save(run, user=None, reason="superseded by a run on changed inputs", update_fields=["state"])


def adjustment_propose(*, province: Province, period: str) -> list[Transfer]:
    """The provincial run of ``period`` as the list of its proposed transfers (demo, scripts)."""
    run, _ = adjustment_run(period=period, province=province)
    return list(Transfer.objects.filter(pk__in=run.transfer_ids).order_by("pk"))


def adjustment_request(*, period: str, province_code: str = "", user: Any) -> Job:
    """Queue a run (API, admin, beat); the permission is checked now and again in the job."""
    check_period(period)
    province = None
    if province_code:
        province = Province.objects.filter(code=province_code).first()
        if province is None:
            raise NotFound(format_lazy(_("no province {province_code}"), province_code=province_code), code="province_unknown")
    _check_run_permission(province=province, user=user)
    return job_enqueue(kind=ADJUSTMENT_JOB, user=user, params={"period": period}, province=province_code)


def adjustment_job_handler(job: Job) -> dict[str, Any]:
    code = job.params.get("province", "")
    province = Province.objects.get(code=code) if code else None
    run, created = adjustment_run(period=job.params["period"], province=province, user=job.created_by, job=job)
    return {
        "run": run.pk,
        "created": created,
        "period": run.period,
        "scope": run.scope_code,
        "contributions_fen": run.contributions_fen,
        "pot_fen": run.pot_fen,
        "allocations_fen": run.allocations_fen,
        "transfers": len(run.transfer_ids),
    }


def adjustment_schedule(*, period: str) -> list[Job]:
    """Beat: queue ``period``'s runs for every adjustment-fund province with a rule in force and
    figures, then the national run; the system starts them (user None)."""
    jobs = []
    first_day = dt.date(int(period[:4]), int(period[5:]), 1)
    provinces = (
        Province.objects.filter(pooling_model=Province.PoolingModel.ADJUSTMENT_FUND, period_figures__period=period)
        .filter(adjustment_rules__effective_from__lte=first_day)
        .distinct()
        .order_by("code")
    )
    for province in provinces:
        jobs.append(adjustment_request(period=period, province_code=province.code, user=None))
    national = AdjustmentRule.objects.filter(province__isnull=True, effective_from__lte=first_day).exists()
    if national and RegionPeriodFigures.objects.filter(period=period).exists():
        jobs.append(adjustment_request(period=period, user=None))
    return jobs


# --- advance funds (预付金) -----------------------------------------------------------------------------


@transaction.atomic
def advance_policy_set(*, province: Province, threshold_fen: int, target_fen: int, user: Any, reason: str = "") -> AdvanceFundPolicy:
    """Set when ``province``'s advance is topped up (below ``threshold_fen``, back to
    ``target_fen``): a finance_checker of the province or a national one.

    Raises Forbidden (role, wrong_province), ValidationFailed (amounts: 0 ≤ threshold ≤ target, target > 0)."""
    _require_finance(user, Role.FINANCE_CHECKER, province_code=province.code)
    errors = []
    for name, value in (("threshold_fen", threshold_fen), ("target_fen", target_fen)):
        try:
            if check_fen(value) < 0:
                errors.append({"field": name, "code": "negative", "message": "fen ≥ 0"})
        except MoneyError as exc:
            errors.append({"field": name, "code": "invalid", "message": str(exc)})
    if not errors and (target_fen < threshold_fen or target_fen <= 0):
        errors.append({"field": "target_fen", "code": "below_threshold", "message": "the target is above 0 and at least the threshold"})
    if errors:
        raise ValidationFailed(_("the advance policy is not valid"), errors=errors)
    policy = AdvanceFundPolicy.objects.select_for_update().filter(province=province).order_by("pk").first()
    old = {"threshold_fen": policy.threshold_fen, "target_fen": policy.target_fen} if policy else None
    policy = policy or AdvanceFundPolicy(province=province)
    policy.threshold_fen, policy.target_fen = threshold_fen, target_fen
    policy.updated_by = user if getattr(user, "pk", None) else None
    history_save(policy, user=policy.updated_by, reason=reason or "advance policy set")
    audit_record(
        action=AuditAction.ADVANCE_POLICY_CHANGED,
        actor=user,
        obj=policy,
        province=province.code,
        reason=reason,
        detail={"old": old, "new": {"threshold_fen": threshold_fen, "target_fen": target_fen}},
    )
    return policy


TOPUP_KEY = "advance-topup"


def advance_topups_check(*, province_codes: list[str] | None = None, period: str = "") -> list[Transfer]:
    """After a monthly clearing (and daily, in case that hook was missed): every province with an
    advance policy whose *projected* advance (balance, minus debits proposed but not posted,
    plus top-ups on their way) is below its threshold gets one proposal from its provincial
    fund bringing it back to the target. At or above the threshold: nothing. Idempotent: a
    proposed top-up counts in the projection, so a second check proposes nothing more.
    Each province in its own transaction; a province whose proposal is refused is logged and
    skipped."""
    policies = AdvanceFundPolicy.objects.select_related("province").order_by("province__code")
    if province_codes is not None:
        policies = policies.filter(province__code__in=province_codes)
    proposer = system_proposer(name="advance")
    accounts_ensure()
    proposed = []
    for policy in policies:
        try:
            transfer = _advance_topup(policy=policy, proposer=proposer, period=period)
        except DomainError as exc:  # one province's refusal (a closed fund, a bad policy) must not stop the others
            log.warning("advance top-up of %s not proposed: %s (%s)", policy.province.code, exc.detail, exc.code)
            continue
        if transfer is not None:
            proposed.append(transfer)
    return proposed


@transaction.atomic
def _advance_topup(*, policy: AdvanceFundPolicy, proposer: Any, period: str) -> Transfer | None:
    """The top-up one province's advance needs now, proposed (None when it needs none); the
    advance account is locked while it is decided, so two checks at once propose one."""
    province = policy.province
    advance = FundAccount.objects.select_for_update(of=("self",)).select_related("province").get(kind=Kind.ADVANCE, province=province)
    projected = selectors.advance_projected_fen(account=advance)
    if projected >= policy.threshold_fen:
        return None
    provincial = FundAccount.objects.select_related("province").get(kind=Kind.PROVINCIAL, province=province)
    attempt = Transfer.objects.filter(proposed_by=proposer, idempotency_key__startswith=f"{TOPUP_KEY}:{province.code}:").count() + 1
    return transfer_propose_detailed(
        from_account=provincial,
        to_account=advance,
        amount_fen=policy.target_fen - projected,
        memo=f"top-up of the advance to {format_yuan(policy.target_fen)}" + (f" after the {period} clearing" if period else ""),
        proposer=proposer,
        idempotency_key=f"{TOPUP_KEY}:{province.code}:{attempt}",
        reason=f"projected advance {format_yuan(projected)} below the threshold {format_yuan(policy.threshold_fen)}",
    ).transfer


# --- the monthly clearing's settled amounts --------------------------------------------------------------


def clearing_record(*, period: str, pairs: list[tuple[str, str, int, int]], source: str) -> list[ClearingResult]:
    """Keep what the monthly clearing settled in ``period`` per province (``signals.clearing_recorded``):
    fund amounts of matched claims and of adjustments (resolved discrepancies netted in the run)
    as home (payable) and as destination (receivable). A rerun
    of the month replaces the figures (history keeps the earlier ones); a province that drops out
    goes to 0. Runs in the sender's transaction; after commit the advances and budget alerts are
    checked (``pooling.after_clearing``). One audit event."""
    check_period(period)
    totals: dict[str, list[int]] = {}
    for home, destination, claims, fund in pairs:
        totals.setdefault(home, [0, 0, 0])
        totals.setdefault(destination, [0, 0, 0])
        totals[home][0] += int(fund)
        totals[home][2] += int(claims)
        totals[destination][1] += int(fund)
    with transaction.atomic():
        provinces = {p.code: p for p in Province.objects.filter(code__in=list(totals))}
        stored = {
            r.province.code: r
            for r in ClearingResult.objects.select_for_update(of=("self",)).select_related("province").filter(period=period).order_by("pk")
        }
        written = []
        for code in sorted(set(totals) | set(stored)):
            payable, receivable, claims = totals.get(code, [0, 0, 0])
            result = stored.get(code)
            if result is None:
                if code not in provinces:
                    continue
                result = ClearingResult(period=period, province=provinces[code])
            elif (result.payable_fen, result.receivable_fen, result.claims, result.source) == (payable, receivable, claims, source):
                written.append(result)
                continue
            result.payable_fen, result.receivable_fen, result.claims, result.source = payable, receivable, claims, source[:100]
            history_save(result, user=None, reason=f"reported by {source}")
            written.append(result)
        audit_record(
            action=AuditAction.CLEARING_RECORDED,
            actor=None,
            object_type=ClearingResult._meta.label_lower,
            object_id=period,
            province="",
            reason=source,
            detail={"period": period, "provinces": len(written), "settled_fen": sum(r.payable_fen for r in written)},
        )
        transaction.on_commit(lambda: _queue_after_clearing(period))
    return written


def _queue_after_clearing(period: str) -> None:
    from celery import current_app

    current_app.tasks["pooling.after_clearing"].apply_async(args=[period])


def after_clearing(*, period: str = "") -> dict[str, Any]:
    """What follows a clearing of ``period``: advance top-ups, then the budget alerts of its year.
    Without a period (the daily check): top-ups, and the alerts of every budget not alerted yet."""
    topups = advance_topups_check(period=period)
    with transaction.atomic():
        alerted = budget_alerts_check(year=int(period[:4]) if period else None)
    return {"topups": [t.pk for t in topups], "budget_alerts": [b.pk for b in alerted]}


# --- budgets ---------------------------------------------------------------------------------------------


@transaction.atomic
def budget_save(
    *,
    province: Province,
    year: int,
    expenditure_fen: int,
    cross_regional_fen: int,
    region: PoolingRegion | None = None,
    alert_ratio: Decimal | None = None,
    user: Any,
    reason: str = "",
) -> PoolingBudget:
    """Set the year's budget of ``province`` (or of its ``region``): fund expenditure and, of it,
    the expected cross-regional expenditure; ``alert_ratio`` defaults to
    POOLING_BUDGET_ALERT_RATIO. A finance_maker of the province (or a national one). Changing an
    amount or the ratio arms the alert again. Raises Forbidden, ValidationFailed."""
    if region is not None and region.province_id != province.pk:
        raise ValidationFailed(
            format_lazy(_("{region} is not in {province}"), region=region, province=province),
            errors=[{"field": "region", "code": "wrong_province", "message": ""}],
        )
    _require_finance(user, Role.FINANCE_MAKER, province_code=province.code)
    ratio = Decimal(str(alert_ratio if alert_ratio is not None else getattr(settings, "POOLING_BUDGET_ALERT_RATIO", "0.9")))
    errors = []
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        errors.append({"field": "year", "code": "invalid", "message": "a year between 2000 and 2100"})
    for name, value in (("expenditure_fen", expenditure_fen), ("cross_regional_fen", cross_regional_fen)):
        try:
            if check_fen(value) < 0:
                errors.append({"field": name, "code": "negative", "message": "fen ≥ 0"})
        except MoneyError as exc:
            errors.append({"field": name, "code": "invalid", "message": str(exc)})
    if not errors and cross_regional_fen > expenditure_fen:
        errors.append({"field": "cross_regional_fen", "code": "over_expenditure", "message": "part of the expenditure, not more"})
    if not Decimal(0) < ratio <= Decimal(5) or ratio.as_tuple().exponent < -4:  # type: ignore[operator]
        errors.append({"field": "alert_ratio", "code": "invalid", "message": "a share above 0 and at most 5, 4 decimals"})
    if errors:
        raise ValidationFailed(_("the budget is not valid"), errors=errors)
    budget = PoolingBudget.objects.select_for_update().filter(province=province, region=region, year=year).order_by("pk").first()
    old = (budget.expenditure_fen, budget.cross_regional_fen, budget.alert_ratio) if budget else None
    budget = budget or PoolingBudget(province=province, region=region, year=year)
    budget.expenditure_fen, budget.cross_regional_fen, budget.alert_ratio = expenditure_fen, cross_regional_fen, ratio
    if old is not None and (old[1], old[2]) != (cross_regional_fen, ratio):
        budget.alerted_at = None
    budget.updated_by = user if getattr(user, "pk", None) else None
    history_save(budget, user=budget.updated_by, reason=reason or "budget set")
    audit_record(
        action=AuditAction.BUDGET_SAVED,
        actor=user,
        obj=budget,
        province=province.code,
        reason=reason,
        detail={
            "year": year,
            "unit": budget.unit_code,
            "expenditure_fen": expenditure_fen,
            "cross_regional_fen": cross_regional_fen,
            "alert_ratio": str(ratio),
            "old": [old[0], old[1], str(old[2])] if old else None,
        },
    )
    budget_alerts_check(budgets=[budget])
    return budget


def budget_alerts_check(
    *, province_codes: list[str] | None = None, year: int | None = None, budgets: list[PoolingBudget] | None = None
) -> list[PoolingBudget]:
    """Alert once per budget: when the year's actual cross-regional expenditure reaches
    ``alert_ratio`` of the budgeted amount, email the province's finance and provincial staff
    (apps.core.mail, sent after commit) and mark the budget ``alerted_at``. Runs inside the
    caller's transaction; the budget row is locked and re-read, so two checks at once alert once."""
    if budgets is None:
        queryset = PoolingBudget.objects.filter(alerted_at__isnull=True)
        if province_codes is not None:
            queryset = queryset.filter(province__code__in=province_codes)
        if year is not None:
            queryset = queryset.filter(year=year)
        budgets = list(queryset.order_by("pk"))
    alerted = []
    for candidate in budgets:
        budget = PoolingBudget.objects.select_for_update(of=("self",)).select_related("province", "region").get(pk=candidate.pk)
        if budget.alerted_at is not None or budget.cross_regional_fen <= 0:
            continue
        actual = selectors.budget_actual_fen(budget=budget)
        limit = budget.alert_ratio * budget.cross_regional_fen
        if actual < limit:
            continue
        budget.alerted_at = timezone.now()
        history_save(
            budget,
            user=None,
            reason=f"alert: {format_yuan(actual)} of {format_yuan(budget.cross_regional_fen)}",
            update_fields=["alerted_at"],
        )
        percent = f"{Decimal(actual) * 100 / budget.cross_regional_fen:.1f}%"
        unit = str(budget.region or budget.province)
        audit_record(
            action=AuditAction.BUDGET_ALERTED,
            actor=None,
            obj=budget,
            province=budget.province.code,
            detail={
                "year": budget.year,
                "unit": budget.unit_code,
                "actual_fen": actual,
                "budget_fen": budget.cross_regional_fen,
                "ratio": str(budget.alert_ratio),
            },
        )
        email_notify(
            key=f"pooling.budget_alert:{budget.pk}:{budget.cross_regional_fen}:{budget.alert_ratio}",
            recipients=staff_who_can(roles=[Role.FINANCE_MAKER, Role.FINANCE_CHECKER, Role.PROVINCE_STAFF], province=budget.province.code),
            subject=gettext("Cross-regional budget %(year)s of %(unit)s: %(percent)s used")
            % {"year": budget.year, "unit": unit, "percent": percent},
            body=gettext(
                "The settled cross-regional expenditure of %(unit)s in %(year)s has reached %(actual)s, %(percent)s of the "
                "budgeted %(budget)s (alert at %(ratio)s).\n"
            )
            % {
                "unit": unit,
                "year": budget.year,
                "actual": format_yuan(actual),
                "percent": percent,
                "budget": format_yuan(budget.cross_regional_fen),
                "ratio": f"{budget.alert_ratio * 100:.0f}%",
            },
        )
        alerted.append(budget)
    return alerted


# --- moving a province to unified collection and expenditure (统收统支) ------------------------------------

UNIFY_KEY = "unify"


def _live_transfers_touching(accounts: list[FundAccount]) -> QuerySet[Transfer]:
    ids = [a.pk for a in accounts]
    return Transfer.objects.filter(state__in=[State.PROPOSED, State.APPROVED]).filter(
        models.Q(from_account_id__in=ids) | models.Q(to_account_id__in=ids)
    )


@transaction.atomic
def unification_propose(*, province: Province, user: Any, reason: str) -> PoolingModelChange:
    """Start (or continue) moving ``province`` to unified collection and expenditure: propose,
    for every open regional account with a balance, the transfer that empties it into the
    provincial fund (or, for an overdrawn one, refills it from there). Nothing moves before a
    checker approves each transfer; nothing is renamed before ``unification_complete``. A second
    call proposes only for accounts without a live consolidation transfer (idempotent).

    Raises Forbidden (not a finance_maker of the province), ValidationFailed (no reason),
    Conflict ``already_unified``."""
    _require_finance(user, Role.FINANCE_MAKER, province_code=province.code)
    require_reason(reason, detail="a change of pooling model needs a reason")
    province = Province.objects.select_for_update().get(pk=province.pk)
    if province.pooling_model == Province.PoolingModel.UNIFIED:
        raise Conflict(format_lazy(_("{province} already collects and spends as one fund"), province=province), code="already_unified")
    change = PoolingModelChange.objects.select_for_update().filter(province=province, state=PoolingModelChange.State.PENDING).first()
    if change is None:
        change = PoolingModelChange(province=province, reason=reason, proposed_by=user)
        history_save(change, user=user, reason=reason)
    regional = list(
        FundAccount.objects.select_for_update(of=("self",))
        .select_related("province", "region")
        .filter(kind=Kind.REGIONAL, province=province, closed_at__isnull=True)
        .order_by("pk")
    )
    provincial = FundAccount.objects.select_related("province").get(kind=Kind.PROVINCIAL, province=province)
    busy = set(
        _live_transfers_touching(regional)
        .filter(idempotency_key__startswith=f"{UNIFY_KEY}:{change.pk}:")
        .values_list("from_account_id", "to_account_id")
        .distinct()
    )
    busy_ids = {pk for pair in busy for pk in pair}
    new_ids = []
    for account in regional:
        if account.balance_fen == 0 or account.pk in busy_ids:
            continue
        attempt = (
            Transfer.objects.filter(proposed_by=user, idempotency_key__startswith=f"{UNIFY_KEY}:{change.pk}:{account.pk}:").count() + 1
        )
        source, target = (account, provincial) if account.balance_fen > 0 else (provincial, account)
        transfer = transfer_propose_detailed(
            from_account=source,
            to_account=target,
            amount_fen=abs(account.balance_fen),
            memo=f"consolidation of {account.region.code if account.region else account.pk} into the provincial fund (change #{change.pk})",
            proposer=user,
            idempotency_key=f"{UNIFY_KEY}:{change.pk}:{account.pk}:{attempt}",
            reason=reason,
        ).transfer
        new_ids.append(transfer.pk)
    if new_ids:
        change.transfer_ids = [*change.transfer_ids, *new_ids]
        history_save(change, user=user, reason=f"proposed {len(new_ids)} consolidation transfer(s)", update_fields=["transfer_ids"])
    audit_record(
        action=AuditAction.UNIFICATION_PROPOSED,
        actor=user,
        obj=change,
        province=province.code,
        reason=reason,
        detail={"regional_accounts": len(regional), "new_transfers": new_ids},
    )
    return change


@transaction.atomic
def unification_complete(*, change: PoolingModelChange, user: Any) -> PoolingModelChange:
    """Finish moving the province to unified collection and expenditure once every regional
    account is empty and no transfer touching one is waiting: the province's model, the
    provincial account's name and each regional account's ``closed_at`` change, each with a
    history row saying why. A second person: the proposer gets 409 ``same_user_cannot_approve``
    (first); then a finance_checker of the province (403 otherwise); 409
    ``unification_not_pending``; 409 ``consolidation_incomplete`` listing what is left."""
    change = PoolingModelChange.objects.select_for_update(of=("self",)).select_related("province").get(pk=change.pk)
    if change.proposed_by_id == getattr(user, "pk", None):
        raise Conflict(_("whoever proposed the change does not complete it"), code="same_user_cannot_approve")
    _require_finance(user, Role.FINANCE_CHECKER, province_code=change.province.code)
    if change.state != PoolingModelChange.State.PENDING:
        raise Conflict(format_lazy(_("change #{id} is {state}"), id=change.pk, state=change.state), code="unification_not_pending")
    province = Province.objects.select_for_update().get(pk=change.province_id)
    regional = list(
        FundAccount.objects.select_for_update(of=("self",))
        .select_related("region")
        .filter(kind=Kind.REGIONAL, province=province, closed_at__isnull=True)
        .order_by("pk")
    )
    errors = [
        {"field": str(a.pk), "code": "balance_not_zero", "message": f"{a} holds {format_yuan(a.balance_fen)}"}
        for a in regional
        if a.balance_fen
    ]
    errors += [
        {"field": str(t.pk), "code": "transfer_pending", "message": f"transfer #{t.pk} ({t.state}) touches a regional account"}
        for t in _live_transfers_touching(regional).order_by("pk")
    ]
    if errors:
        raise Conflict(
            format_lazy(_("{count} thing(s) left before {province} can be unified"), count=len(errors), province=province),
            code="consolidation_incomplete",
            errors=errors,
        )
    now = timezone.now()
    why = f"{province.name} moved to unified collection and expenditure (change #{change.pk})"
    for account in regional:
        account.closed_at = now
        history_save(account, user=user, reason=f"closed: {why}", update_fields=["closed_at"])
    provincial = FundAccount.objects.select_for_update().get(kind=Kind.PROVINCIAL, province=province)
    old_name = provincial.name
    province.pooling_model = Province.PoolingModel.UNIFIED
    history_save(province, user=user, reason=why)
    provincial.name = _account_name(Kind.PROVINCIAL, province)
    if provincial.name != old_name:
        history_save(provincial, user=user, reason=f"renamed: {why}", update_fields=["name"])
    change.state, change.completed_by, change.completed_at = PoolingModelChange.State.COMPLETED, user, now
    history_save(change, user=user, reason="completed")
    audit_record(
        action=AuditAction.UNIFICATION_COMPLETED,
        actor=user,
        obj=change,
        province=province.code,
        reason=change.reason,
        detail={
            "closed_accounts": [a.pk for a in regional],
            "provincial_account": provincial.pk,
            "old_name": old_name,
            "new_name": provincial.name,
        },
    )
    return change


# --- ledger partitions ahead of time, detaching old months (issue 22) ------------------------------


def ledger_partitions_ensure(*, on_date: dt.date | None = None) -> list[str]:
    """Make sure the ledger partitions of the month of ``on_date`` (default: today in the portal's
    time zone) and of the next month exist; returns their names. Beat runs it daily
    (``pooling.ledger_partitions_ensure``), so a month's first posting finds its partition and
    does not create it, which would hold the entries table's lock until that posting commits.
    Idempotent; each month in a short transaction of its own (creating locks the table). DDL
    through the SECURITY DEFINER function, so the application's role may call it; no row of the
    domain changes, so no history or audit event."""
    day = on_date or timezone.localdate()
    this_month = day.replace(day=1)
    next_month = (this_month + dt.timedelta(days=32)).replace(day=1)
    tz = timezone.get_current_timezone()
    names = []
    for month in (this_month, next_month):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql.LEDGER_PARTITION_ENSURE_SQL, [dt.datetime.combine(month, dt.time(12), tz)])
            names.append(str(cursor.fetchone()[0]))
    return names


@transaction.atomic
def ledger_month_detach(*, period: str, actor: str = "manage.py detach_partition") -> dict[str, Any]:
    """Detach the ledger entries of ``period`` (YYYY-MM, before last month) from the table: they
    stay in their own table ``pooling_ledgerentry_mYYYYMM`` (archive it, then drop it), and their
    per-account sums are kept as ``LedgerArchive`` rows so the balance checks still add up.
    Returns {partition, accounts, entries}. Runs as the tables' owner (DETACH is DDL).

    Raises ValidationFailed (period format), Conflict ``partition_in_use`` (this month or the
    last one: postings and their statements still read them), NotFound ``partition_unknown``."""
    from apps.core.partitioning import partition_detach, partitions_of

    check_period(period)
    this_month = timezone.localdate().replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    if period >= f"{last_month:%Y-%m}":
        raise Conflict(
            format_lazy(_("{period} is this or last month: entries of it are still posted and read"), period=period),
            code="partition_in_use",
        )
    name = f"pooling_ledgerentry_m{period.replace('-', '')}"
    if name not in {partition for partition, _ in partitions_of("pooling_ledgerentry")}:
        raise NotFound(format_lazy(_("no attached partition {name}"), name=name), code="partition_unknown")
    start, end = selectors._month_bounds(period)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT account_id, count(*), sum(amount_fen) FROM {connection.ops.quote_name(name)} GROUP BY account_id")
        sums = cursor.fetchall()
    LedgerArchive.objects.bulk_create(
        [
            LedgerArchive(partition=name, period_start=start, period_end=end, account_id=a, entries=n, entries_fen=total)
            for a, n, total in sums
        ]
    )
    partition_detach(table="pooling_ledgerentry", partition=name)
    detail = {"partition": name, "period": period, "accounts": len(sums), "entries": sum(n for _, n, _ in sums)}
    audit_record(action=AuditAction.PARTITION_DETACHED, actor=actor, object_type="pooling.ledgerentry", object_id=name, detail=detail)
    return detail
