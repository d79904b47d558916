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

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from apps.benefits.models import PoolingRegion, Province
from apps.core.audit import audit_record, history_save
from apps.core.errors import Conflict, Forbidden, NotFound, ValidationFailed, require_reason
from apps.core.models import AuditAction
from apps.core.money import MoneyError, apply_ratio, check_fen, format_yuan
from apps.core.otp import require_otp
from apps.core.permissions import has_role, staff_province
from apps.core.roles import Role

from .models import AdjustmentRule, FundAccount, LedgerEntry, RegionPeriodFigures, Transfer

State = Transfer.State
Kind = FundAccount.Kind

# Users that propose on behalf of a process, never log in and hold no role (see system_proposer).
SYSTEM_PROPOSERS = frozenset({"system-reconciliation", "system-adjustment"})


# --- accounts ----------------------------------------------------------------------------------


def _account_name(kind: str, province: Province | None = None, region: PoolingRegion | None = None) -> str:
    if kind == Kind.NATIONAL:
        return "全国调剂金 (national adjustment fund)"
    assert province is not None
    if kind == Kind.EXTERNAL:
        return f"{province.name} 外部收支 (external: fund income and payouts)"
    if kind == Kind.REGIONAL:
        assert region is not None
        return f"{region.name} 统筹基金 (pooling-region fund)"
    if province.pooling_model == Province.PoolingModel.UNIFIED:
        return f"{province.name} 省级统筹基金 (provincial fund)"
    return f"{province.name} 省级调剂金 (provincial adjustment fund)"


def accounts_ensure() -> int:
    """Create the missing accounts: the national fund, a provincial and an external account per
    province, a regional account per pooling region of an adjustment-fund province. Idempotent;
    runs after every migrate and when a province or region is added. Returns how many it made."""
    with transaction.atomic():
        existing = set(FundAccount.objects.values_list("kind", "province_id", "region_id"))
        missing: list[FundAccount] = []
        if not any(kind == Kind.NATIONAL for kind, _, _ in existing):
            missing.append(FundAccount(kind=Kind.NATIONAL, name=_account_name(Kind.NATIONAL)))
        for province in Province.objects.all():
            for kind in (Kind.PROVINCIAL, Kind.EXTERNAL):
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
            "an overdraft limit is ≥ 0", errors=[{"field": "overdraft_limit_fen", "code": "invalid", "message": "negative"}]
        )
    account = FundAccount.objects.select_for_update().get(pk=account.pk)
    if account.kind != Kind.EXTERNAL and account.balance_fen < -limit_fen:
        raise Conflict(f"{account}: balance {format_yuan(account.balance_fen)} is already below that limit", code="insufficient_funds")
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
        raise ValidationFailed(f"unknown system proposer {name!r}")
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


def _require_checker_for(user: Any, account: FundAccount) -> None:
    if not has_role(user, Role.FINANCE_CHECKER):
        raise Forbidden("approving transfers needs the finance_checker role")
    if getattr(user, "is_superuser", False):
        return
    wanted = approval_province(account)
    own = staff_province(user)
    if own != wanted:
        raise Forbidden(
            f"debits of {account} are approved by {'finance checkers of province ' + wanted if wanted else 'national finance checkers'}, "
            f"you act for {'province ' + own if own else 'the national level'}",
            code="wrong_province",
        )
    require_otp(user)  # a checker who enrolled a TOTP device acts only OTP-verified (403 otp_required)


def _require_maker_for(user: Any, from_account: FundAccount, to_account: FundAccount) -> None:
    if is_system_proposer(user):
        return
    if not has_role(user, Role.FINANCE_MAKER):
        raise Forbidden("proposing transfers needs the finance_maker role")
    if getattr(user, "is_superuser", False):
        return
    # A maker proposes for her own province's accounts; a national maker (no province) for the
    # national fund's. The national fund's province_code is ''.
    own = staff_province(user)
    involved = {a.province_code for a in (from_account, to_account)}
    if own not in involved:
        raise Forbidden(
            f"you act for {'province ' + own if own else 'the national level'}, this transfer is between "
            f"{', '.join(code or 'national' for code in sorted(involved))}",
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
            f"Idempotency-Key {key!r} was used for transfer #{existing.pk} with a different body", code="idempotency_key_conflict"
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
        raise ValidationFailed("the transfer is not valid", errors=errors)
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
    Conflict ``idempotency_key_conflict`` (same key, other body).
    """
    amount_fen = _clean_proposal(from_account, to_account, amount_fen, memo, idempotency_key)
    _require_maker_for(proposer, from_account, to_account)
    fingerprint = _fingerprint(from_account=from_account, to_account=to_account, amount_fen=amount_fen, memo=memo)
    with transaction.atomic():
        existing = Transfer.objects.filter(proposed_by=proposer, idempotency_key=idempotency_key).first()
        if existing is not None:
            return _replay(existing, fingerprint, idempotency_key)
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
        return Proposal(transfer, True)


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
        raise NotFound(f"no transfer #{transfer.pk}")
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


def _ensure_proposed(transfer: Transfer) -> None:
    if transfer.state != State.PROPOSED:
        hint = "; undo a posted transfer with a reversing transfer" if transfer.state == State.POSTED else ""
        raise Conflict(f"transfer #{transfer.pk} is {transfer.state}, not proposed{hint}", code="transfer_not_proposed")


def _post(transfer: Transfer, *, user: Any) -> None:
    """Write the two entries under both account row locks (taken in primary-key order, the
    overdraft check under them); inserting the entries moves the balances (a PostgreSQL trigger,
    the only way ``balance_fen`` changes, see migration 0005)."""
    accounts = {
        a.pk: a
        for a in FundAccount.objects.select_for_update().filter(pk__in=[transfer.from_account_id, transfer.to_account_id]).order_by("pk")
    }
    debit = accounts[transfer.from_account_id]
    amount = transfer.amount_fen
    if debit.kind != Kind.EXTERNAL and debit.balance_fen - amount < -debit.overdraft_limit_fen:
        raise Conflict(
            f"transfer #{transfer.pk}: {debit} holds {format_yuan(debit.balance_fen)} "
            f"(overdraft limit {format_yuan(debit.overdraft_limit_fen)}), cannot pay {format_yuan(amount)}",
            code="insufficient_funds",
        )
    now = timezone.now()
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(account_id=transfer.from_account_id, transfer=transfer, amount_fen=-amount, posted_at=now),
            LedgerEntry(account_id=transfer.to_account_id, transfer=transfer, amount_fen=amount, posted_at=now),
        ]
    )
    transfer.state = State.POSTED
    transfer.posted_at = now
    history_save(transfer, user=user, reason="posted")
    _audit_transfer(transfer, action=AuditAction.TRANSFER_POSTED, user=user)


@transaction.atomic
def transfer_approve(*, transfer: Transfer, approver: Any) -> Transfer:
    """Approve a proposed transfer and post it in the same transaction.

    Order of refusals: the proposer → 409 same_user_cannot_approve; not a finance_checker →
    403 permission_denied; checker of another province than the debited account's → 403
    wrong_province; a checker with a TOTP device whose request is not OTP-verified → 403
    otp_required; not proposed → 409 transfer_not_proposed; overdraft → 409 insufficient_funds.
    """
    transfer = _lock(transfer)
    if transfer.proposed_by_id == getattr(approver, "pk", None):
        raise Conflict("the proposer of a transfer cannot approve it", code="same_user_cannot_approve")
    _require_checker_for(approver, transfer.from_account)
    _ensure_proposed(transfer)
    transfer.state = State.APPROVED
    transfer.approved_by = approver
    transfer.approved_at = timezone.now()
    try:
        with transaction.atomic():
            history_save(transfer, user=approver, reason="approved")
    except IntegrityError as exc:  # the CHECK, should the comparison above ever be bypassed
        raise Conflict("the proposer of a transfer cannot approve it", code="same_user_cannot_approve") from exc
    _post(transfer, user=approver)
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
        raise Conflict("the proposer of a transfer cannot review it (void it instead)", code="same_user_cannot_approve")
    _require_checker_for(user, transfer.from_account)
    require_reason(reason, detail="a rejection needs a reason")
    _ensure_proposed(transfer)
    return _close(transfer, user=user, state=State.REJECTED, reason=reason, action=AuditAction.TRANSFER_REJECTED)


@transaction.atomic
def transfer_void(*, transfer: Transfer, user: Any, reason: str) -> Transfer:
    """Cancel a transfer before it is posted: by its proposer or a checker of the debited
    account's province. A posted transfer is 409 transfer_not_proposed: reverse it instead."""
    transfer = _lock(transfer)
    if transfer.proposed_by_id != getattr(user, "pk", None):
        _require_checker_for(user, transfer.from_account)
    require_reason(reason, detail="voiding needs a reason")
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
        raise Conflict(f"transfer #{transfer.pk} is {transfer.state}; only posted transfers are reversed", code="transfer_not_posted")
    require_reason(reason, detail="a reversal needs a reason")
    earlier = list(transfer.reversals.order_by("pk").values_list("pk", "state"))
    live = [(pk, state) for pk, state in earlier if state in REVERSAL_LIVE_STATES]
    if live:
        raise Conflict(f"transfer #{transfer.pk} is already reversed by #{live[0][0]} ({live[0][1]})", code="transfer_already_reversed")
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
        raise Conflict(f"transfer #{transfer.pk} is already reversed", code="transfer_already_reversed") from exc
    if not proposal.created:  # the key was taken by hand for another proposal: never hand that back
        raise Conflict(
            f"Idempotency-Key reversal:{transfer.pk}:{len(earlier) + 1} is in use by transfer #{proposal.transfer.pk}",
            code="idempotency_key_conflict",
        )
    return proposal.transfer


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
        raise NotFound(f"no province {province_code}", code="province_unknown")
    if region_code:
        target = FundAccount.objects.select_related("province").filter(kind=Kind.REGIONAL, region__code=region_code).first()
        if target is None or target.province_id != external.province_id:
            raise NotFound(f"no pooling-region fund {region_code} in province {province_code}", code="region_unknown")
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


# --- contribution and allocation rules -----------------------------------------------------------


@transaction.atomic
def region_figures_put(
    *,
    region: PoolingRegion,
    period: str,
    fund_income_fen: int,
    fund_expenditure_fen: int,
    active_insured: int,
    retirees: int,
    user: Any,
) -> RegionPeriodFigures:
    """Enter (or correct) one region's figures for a period (YYYY-MM)."""
    if len(period) != 7 or period[4] != "-" or not (period[:4].isdigit() and period[5:].isdigit() and 1 <= int(period[5:]) <= 12):
        raise ValidationFailed(f"period {period!r} is not YYYY-MM", errors=[{"field": "period", "code": "invalid", "message": "YYYY-MM"}])
    figures = RegionPeriodFigures.objects.filter(region=region, period=period).first() or RegionPeriodFigures(region=region, period=period)
    figures.fund_income_fen = check_fen(fund_income_fen)
    figures.fund_expenditure_fen = check_fen(fund_expenditure_fen)
    figures.active_insured = active_insured
    figures.retirees = retirees
    figures.entered_by = user if getattr(user, "pk", None) else None
    history_save(figures, user=figures.entered_by, reason="figures entered")
    audit_record(
        action=AuditAction.REGION_FIGURES_ENTERED,
        actor=user,
        obj=figures,
        province=region.province.code,
        detail={
            "region": region.code,
            "period": period,
            "fund_income_fen": figures.fund_income_fen,
            "fund_expenditure_fen": figures.fund_expenditure_fen,
            "active_insured": active_insured,
            "retirees": retirees,
        },
    )
    return figures


def _largest_remainder(total: int, weights: list[Decimal]) -> list[int]:
    """Split ``total`` fen by ``weights`` into whole fen that add up exactly to ``total``."""
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    exact = [Decimal(total) * w / weight_sum for w in weights]
    shares = [int(x) for x in exact]
    left = total - sum(shares)
    for index in sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))[:left]:
        shares[index] += 1
    return shares


def adjustment_plan(*, province: Province, period: str) -> list[dict[str, Any]]:
    """What the rule in force says for ``period``: per region, its contribution and allocation (fen)."""
    first_day = f"{period}-01"
    rule = (
        AdjustmentRule.objects.filter(province=province, effective_from__lte=first_day)
        .exclude(effective_to__lte=first_day)
        .order_by("-effective_from")
        .first()
    )
    if rule is None:
        raise NotFound(f"province {province.code} has no adjustment rule in force in {period}", code="rule_unknown")
    figures = list(
        RegionPeriodFigures.objects.filter(region__province=province, period=period).select_related("region").order_by("region__code")
    )
    if not figures:
        raise NotFound(f"no region figures for {province.code} in {period}", code="figures_missing")
    contributions = [apply_ratio(f.fund_income_fen, rule.contribution_share) for f in figures]
    pot = apply_ratio(sum(contributions), rule.allocation_share)
    dependency = [Decimal(f.retirees) / Decimal(max(f.active_insured, 1)) for f in figures]
    dep_sum = sum(dependency) or Decimal(1)
    deficits = [Decimal(f.deficit_fen) for f in figures]
    def_sum = sum(deficits) or Decimal(1)
    weights = [rule.weight_dependency * d / dep_sum + rule.weight_deficit * x / def_sum for d, x in zip(dependency, deficits, strict=True)]
    allocations = _largest_remainder(pot, weights)
    return [
        {"region": f.region, "contribution_fen": c, "allocation_fen": a, "dependency_ratio": d, "deficit_fen": f.deficit_fen}
        for f, c, a, d in zip(figures, contributions, allocations, dependency, strict=True)
    ]


def adjustment_propose(*, province: Province, period: str, proposer: Any | None = None) -> list[Transfer]:
    """Turn the plan into *proposed* transfers (regional → provincial contributions, provincial →
    regional allocations), each keyed by period and region so a rerun proposes nothing new."""
    proposer = proposer or system_proposer(name="adjustment")
    provincial = FundAccount.objects.select_related("province").get(kind=Kind.PROVINCIAL, province=province)
    transfers: list[Transfer] = []
    with transaction.atomic():
        for row in adjustment_plan(province=province, period=period):
            regional = FundAccount.objects.select_related("province").get(kind=Kind.REGIONAL, region=row["region"])
            code = row["region"].code
            if row["contribution_fen"] > 0:
                transfers.append(
                    transfer_propose(
                        from_account=regional,
                        to_account=provincial,
                        amount_fen=row["contribution_fen"],
                        memo=f"{period} contribution of {code} to the provincial adjustment fund",
                        proposer=proposer,
                        idempotency_key=f"adjustment:{period}:contribution:{code}",
                    )
                )
            if row["allocation_fen"] > 0:
                transfers.append(
                    transfer_propose(
                        from_account=provincial,
                        to_account=regional,
                        amount_fen=row["allocation_fen"],
                        memo=f"{period} allocation to {code} (dependency {row['dependency_ratio']:.2f}, deficit {format_yuan(row['deficit_fen'])})",
                        proposer=proposer,
                        idempotency_key=f"adjustment:{period}:allocation:{code}",
                    )
                )
    return transfers
