"""Writes of the reconciliation app: settlement imports, matching runs, netting proposals.

Rules:
- a settlement file is all-or-nothing (BulkFileRejected lists every bad row) and becomes one
  SettlementBatch of a period and side; finance_maker (or superuser) only; a province-bound
  maker files her own side only (``side=home``: every row's home_province is hers,
  ``destination``: every destination_province; ``wrong_province`` row errors otherwise);
- runs are started by national finance users only (no province: 403 permission_denied
  otherwise), because a run matches, nets and supersedes proposals of every province;
- a run of a period matches both sides set-based (matching.py), stores the discrepancies
  (replacing those of earlier runs of the period, which become ``superseded``), nets the
  matched fund amounts (home pays destination) into at most n−1 transfers and proposes them
  through apps.pooling as the ``system-reconciliation`` proposer. Transfers of the period that
  are already approved/posted count as paid; the idempotency key names the period, the inputs
  fingerprint, the pair, the amount and the debited account, so a rerun on the same inputs
  replays the same proposals (no duplicates) and a rerun after new imports (or after an advance
  policy changed the debited account) voids the earlier unapproved ones (never approved or
  posted ones);
- a claim is paid once: a claim with a resolved or written-off discrepancy (``SETTLING_KINDS``)
  never nets as matched again (``_settled_claims``), and a discrepancy left on a superseded run
  takes no further step (``discrepancy_superseded``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import PurePath
from typing import IO, Any

from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.core.audit import audit_record, history_save
from apps.core.bulk import BulkFileRejected, JobProgress, row_error
from apps.core.errors import Conflict, Forbidden, NotFound, ValidationFailed, require_reason
from apps.core.jobs import job_enqueue
from apps.core.mail import awaiting_approval_notify, mail_language, portal_url
from apps.core.models import AuditAction, Job
from apps.core.money import MoneyError, check_fen
from apps.core.otp import require_otp
from apps.core.permissions import bound_province, has_role, require_role, staff_province
from apps.core.reasons import code_label
from apps.core.roles import Role
from apps.pooling import selectors as pooling_selectors
from apps.pooling import services as pooling
from apps.pooling.models import FundAccount, Transfer
from apps.pooling.services import check_period  # one rule for a month, both apps
from apps.pooling.signals import clearing_recorded

from . import matching, sql
from .importer import insert_settlements, stage_settlements
from .models import Discrepancy, ReconciliationRun, SettlementBatch, Side
from .netting import check_balanced, net_positions, settle

IMPORT_JOB = "reconciliation.import"
RUN_JOB = "reconciliation.run"
KEY_PREFIX = "reconciliation"


def _choice_label(choices: Any, value: str) -> Any:
    """A stored choice's label (lazy: read in the reader's language), or the value itself."""
    return choices(value).label if value in choices.values else value


def _batch_state(value: str) -> Any:
    return _choice_label(SettlementBatch.State, value)


def _d_state(value: str) -> Any:
    return _choice_label(Discrepancy.State, value)


def _side(value: str) -> Any:
    return _choice_label(Side, value)


def _check_side(side: str) -> str:
    if side not in Side.values:
        raise ValidationFailed(_("side is destination or home"), errors=[{"field": "side", "code": "invalid", "message": f"{side!r}"}])
    return side


# --- imports -----------------------------------------------------------------------------------


def _batch_for_replacement(*, replaces: int | None, period: str, side: str, user: Any) -> SettlementBatch | None:
    """The active batch an import replaces, locked; a province-bound user's own province's only (404 otherwise)."""
    if replaces is None:
        return None
    old = SettlementBatch.objects.select_for_update().filter(pk=replaces).first()
    province = bound_province(user)
    if old is None or (province and old.province != province):
        raise NotFound(format_lazy(_("no settlement batch #{id}"), id=replaces))
    if (old.period, old.side) != (period, side):
        raise ValidationFailed(
            format_lazy(
                _("batch #{id} is of {period} {side}, this import of {new_period} {new_side}"),
                id=old.pk,
                period=old.period,
                side=_side(old.side),
                new_period=period,
                new_side=_side(side),
            ),
            errors=[{"field": "replaces", "code": "other_period_or_side", "message": "a replacement is of the same period and side"}],
        )
    if old.state != SettlementBatch.State.ACTIVE:
        raise Conflict(
            format_lazy(_("batch #{id} is {state}: only an active batch is replaced"), id=old.pk, state=_batch_state(old.state)),
            code="batch_not_active",
        )
    if not old.province:
        raise ValidationFailed(
            format_lazy(_("batch #{id} belongs to no province (imported before batches had one): withdraw it and import anew"), id=old.pk),
            errors=[{"field": "replaces", "code": "batch_without_province", "message": "withdraw it instead"}],
        )
    return old


def settlement_partition_ensure(*, period: str) -> str:
    """Create the month's partition of settlement records if it is missing (migration 0006), in
    a short transaction of its own: creating it locks the records table, which must not last for
    a whole import. Returns the partition's name."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql.SETTLEMENT_PARTITION_ENSURE_SQL, [period])
        return str(cursor.fetchone()[0])


def settlement_partitions_ensure(*, on_date: dt.date | None = None) -> list[str]:
    """Make sure the settlement partitions of this period and the next (of ``on_date``, default
    today in the portal's time zone) exist; returns their names. Beat runs it daily
    (``reconciliation.settlement_partitions_ensure``) beside the ledger's, so imports find their
    month's partition ready. Idempotent; no domain row changes (no history, no audit event)."""
    day = on_date or timezone.localdate()
    this_month = day.replace(day=1)
    next_month = (this_month + dt.timedelta(days=32)).replace(day=1)
    return [settlement_partition_ensure(period=f"{month:%Y-%m}") for month in (this_month, next_month)]


def settlement_import(
    *, period: str, side: str, file: IO[bytes], user: Any, job: Job | None = None, filename: str = "", replaces: int | None = None
) -> dict[str, Any]:
    """Import one side's settlement CSV for ``period``; returns {batch, batches, rows, period, side, replaces}.

    Every row belongs to the batch of its province (``side=home``: its home province,
    ``destination``: its destination province): a province-bound maker's file is one batch of her
    province (rows of another: ``wrong_province`` row errors); a national maker's file becomes
    one batch per province it names. ``replaces`` names an active batch of the same period, side
    and province (a province-bound maker's own): the file must hold that province's rows only,
    and in this transaction the new batch becomes active and the old one superseded, so runs read
    the corrected rows instead of both.

    Raises ValidationFailed (period/side, a replacement of another period or side, a national
    file without rows), Forbidden (role), NotFound (a batch to replace outside the user's
    province), Conflict ``batch_not_active`` and BulkFileRejected (``import_rejected``) with every
    bad row; nothing is written then. ``user`` None is an operator or the scheduler."""
    check_period(period)
    _check_side(side)
    if user is not None:
        require_role(user, Role.FINANCE_MAKER)
    progress = JobProgress(job.pk if job else None)
    settlement_partition_ensure(period=period)
    try:
        with transaction.atomic():
            old = _batch_for_replacement(replaces=replaces, period=period, side=side, user=user)
            province = old.province if old is not None else bound_province(user)
            staging, counts = stage_settlements(file=file, progress=progress, side=side, province=province)
            if province:
                counts = {province: counts.get(province, 0)}
            if not counts:
                raise BulkFileRejected(
                    _("the file holds no rows, so it names no province"),
                    errors=[
                        row_error(
                            line=1, column="", code="no_rows", message=_("a national import needs rows (or a province-bound importer)")
                        )
                    ],
                )
            name = PurePath(filename).name[:255]
            batches: dict[str, SettlementBatch] = {}
            for code, rows in counts.items():
                batch = SettlementBatch(period=period, side=side, province=code, filename=name, imported_by=user, replaces=old, rows=rows)
                history_save(batch, user=user, reason=f"imported, replacing batch #{old.pk}" if old else "imported")
                batches[code] = batch
            if old is not None:
                old.state = SettlementBatch.State.SUPERSEDED
                history_save(old, user=user, reason=f"superseded by batch #{batches[old.province].pk}", update_fields=["state"])
            rows = insert_settlements(staging=staging, batches={c: b.pk for c, b in batches.items()}, period=period, side=side)
            ids = [b.pk for b in batches.values()]
            first = next(iter(batches.values()))
            audit_record(
                action=AuditAction.SETTLEMENTS_IMPORTED,
                actor=user,
                obj=first,
                province=province,
                detail={
                    "period": period,
                    "side": side,
                    "rows": rows,
                    "filename": name,
                    "batches": ids,
                    "replaces": old.pk if old else None,
                },
            )
            return {"batch": first.pk, "batches": ids, "rows": rows, "period": period, "side": side, "replaces": old.pk if old else None}
    finally:
        progress.close()


def settlement_import_enqueue(*, period: str, side: str, upload: Any, user: Any, replaces: int | None = None) -> Job:
    """Store an upload and queue its import (API, admin); checks run at request time (the batch
    to replace too: 404 outside the user's province, 409 ``batch_not_active``) and again in the job."""
    check_period(period)
    _check_side(side)
    require_role(user, Role.FINANCE_MAKER)
    if replaces is not None:
        with transaction.atomic():
            _batch_for_replacement(replaces=replaces, period=period, side=side, user=user)
    params: dict[str, Any] = {"period": period, "side": side}
    if replaces is not None:
        params["replaces"] = replaces
    return job_enqueue(kind=IMPORT_JOB, user=user, params=params, upload=upload, province=bound_province(user))


@transaction.atomic
def settlement_batch_withdraw(*, batch: SettlementBatch, user: Any, reason: str) -> SettlementBatch:
    """Withdraw an active batch, saying why: runs no longer read its rows (the next run of the
    period shows what changes). A finance maker (or checker) of the batch's province, or a
    national one. Order: not a finance user 403 ``permission_denied``; another province's batch
    404; no reason 400; not active 409 ``batch_not_active``."""
    require_role(user, Role.FINANCE_MAKER, Role.FINANCE_CHECKER)
    locked = SettlementBatch.objects.select_for_update().filter(pk=batch.pk).first()
    province = bound_province(user)
    if locked is None or (province and locked.province != province):
        raise NotFound(format_lazy(_("no settlement batch #{id}"), id=batch.pk))
    require_reason(reason, detail=_("a withdrawal needs a reason"))
    if locked.state != SettlementBatch.State.ACTIVE:
        raise Conflict(
            format_lazy(_("batch #{id} is {state}, not active"), id=locked.pk, state=_batch_state(locked.state)), code="batch_not_active"
        )
    locked.state = SettlementBatch.State.WITHDRAWN
    locked.withdrawn_by = user if getattr(user, "pk", None) else None
    locked.withdrawn_at = timezone.now()
    locked.withdrawn_reason = reason
    history_save(locked, user=user, reason=f"withdrawn: {reason}")
    audit_record(
        action=AuditAction.SETTLEMENT_BATCH_WITHDRAWN,
        actor=user,
        obj=locked,
        province=locked.province,
        reason=reason,
        detail={"period": locked.period, "side": locked.side, "rows": locked.rows},
    )
    return locked


def settlement_import_job_handler(job: Job) -> dict[str, Any]:
    """Run a queued settlement import job (see ``core.jobs.job_run``)."""
    params = job.params
    with default_storage.open(params["path"], "rb") as file:
        return settlement_import(
            period=params["period"],
            side=params["side"],
            file=file,
            user=job.created_by,
            job=job,
            filename=params["filename"],
            replaces=params.get("replaces"),
        )


# --- runs --------------------------------------------------------------------------------------


def _inputs(period: str, adjustments: list[Discrepancy]) -> str:
    """Fingerprint of what a run reads: the active batches and the resolved amounts it nets."""
    ids = ",".join(str(i) for i in matching.active_batch_ids(period))
    adjusted = ",".join(f"{a.pk}:{a.amount_fen}" for a in adjustments)
    return hashlib.sha256(f"{period}|{ids}|{adjusted}".encode()).hexdigest()


def _adjustments_for(*, period: str, earlier: list[int]) -> list[Discrepancy]:
    """Resolved discrepancies whose amount has not netted yet (or netted in a run of this period
    that the new run supersedes), locked: they net in the run being made, whatever their period.
    A run of another period that races for one waits for the lock, then sees it taken."""
    return list(
        Discrepancy.objects.select_for_update(of=("self",))
        .filter(state=Discrepancy.State.RESOLVED, amount_fen__gt=0)
        .filter(Q(netted_in_run__isnull=True) | Q(netted_in_run_id__in=earlier))
        .order_by("pk")
    )


# A decision on a discrepancy of these kinds settles its claim: paid by the resolution's amount
# (resolved) or not at all (written off). A claim coded against a release not in force matched
# and was paid as matched; writing that discrepancy off settles its coding, not its money.
SETTLING_KINDS = tuple(k for k in Discrepancy.Kind.values if k != Discrepancy.Kind.RELEASE_NOT_IN_FORCE)


def _settled_claims(period: str) -> dict[str, Discrepancy]:
    """{settlement id: the deciding discrepancy} of ``period``'s claims already settled by a
    decision (resolved or written off, kinds in SETTLING_KINDS; a paying resolution named first
    when a claim has both). The rule that keeps a claim from being paid twice: once settled this
    way, a claim that a correction or a withdrawal makes match again never nets as matched (its
    resolution's amount nets once, as an adjustment; a write-off stays a write-off); the run lists
    it under ``already_settled`` with a link to the decision."""
    settled: dict[str, Discrepancy] = {}
    rows = Discrepancy.objects.filter(
        period=period, kind__in=SETTLING_KINDS, state__in=[Discrepancy.State.RESOLVED, Discrepancy.State.WRITTEN_OFF]
    )
    for row in rows.order_by("state", "pk"):  # 'resolved' sorts before 'written_off'
        settled.setdefault(row.settlement_id, row)
    return settled


def _carry_over(*, run: ReconciliationRun, earlier: list[int]) -> int:
    """A rerun keeps what people did: each discrepancy of an earlier run of the period that left
    ``open`` and is found again (same kind, claim, side and field) moves to the new run (same id,
    state and history; a not yet final one takes the new values) in place of the new row; an
    open one of an earlier run is deleted; a worked one not found again stays with its
    superseded run, on record. Returns how many were carried."""
    if not earlier:
        return 0
    carried_values = ", ".join(
        f"{c} = CASE WHEN kept.state IN ('resolved', 'written_off') THEN kept.{c} ELSE found.{c} END"
        for c in (
            "home_value",
            "destination_value",
            "home_fund_fen",
            "destination_fund_fen",
            "delta_fen",
            "expected",
            "count",
            "hospital_code",
            "setting",
            "drg_group",
        )
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH pairs AS (SELECT kept.id AS kept_id, found.id AS found_id FROM reconciliation_discrepancy kept"
            " JOIN reconciliation_discrepancy found ON found.run_id = %s AND (found.kind, found.settlement_id, found.side, found.field)"
            " = (kept.kind, kept.settlement_id, kept.side, kept.field)"
            " WHERE kept.run_id = ANY(%s) AND kept.state <> 'open'),"
            " gone AS (DELETE FROM reconciliation_discrepancy found USING pairs WHERE found.id = pairs.found_id"
            " RETURNING found.*, pairs.kept_id)"
            f" UPDATE reconciliation_discrepancy kept SET run_id = %s, {carried_values} FROM gone found WHERE kept.id = found.kept_id",
            [run.pk, earlier, run.pk],
        )
        carried = int(cursor.rowcount)
        cursor.execute("DELETE FROM reconciliation_discrepancy WHERE run_id = ANY(%s) AND state = 'open'", [earlier])
    return carried


def _key(period: str, inputs: str, payer: str, payee: str, amount: int, debited: FundAccount) -> str:
    """The proposal's idempotency key: what the transfer is (period, inputs, pair, amount) and
    the account it debits, which an advance policy set or lifted between two runs changes
    (fund ↔ advance); without it a rerun on the same inputs would present the key of the old
    proposal with another body (409 idempotency_key_conflict) instead of proposing anew."""
    return f"{KEY_PREFIX}:{period}:{inputs[:16]}:{payer}>{payee}:{amount}:a{debited.pk}"


def _period_transfers(period: str, proposer: Any) -> Any:
    return Transfer.objects.filter(proposed_by=proposer, idempotency_key__startswith=f"{KEY_PREFIX}:{period}:").select_related(
        "from_account__province", "to_account__province"
    )


def reconciliation_run(*, period: str, user: Any = None, job: Job | None = None) -> ReconciliationRun:
    """Match, net and propose for ``period`` in one transaction; returns the run (succeeded).

    Idempotent: rerunning on the same imports stores the same discrepancies and replays the
    same proposals. Raises ValidationFailed (period), Forbidden (role)."""
    check_period(period)
    if user is not None:
        _require_national_finance(user)
    progress = JobProgress(job.pk if job else None, total=3, every=0)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"reconciliation:{period}"])
            earlier = list(ReconciliationRun.objects.filter(period=period).values_list("pk", flat=True))
            adjustments = _adjustments_for(period=period, earlier=earlier)
            inputs = _inputs(period, adjustments)
            run = ReconciliationRun(period=period, inputs=inputs, job=job, started_by=user if getattr(user, "pk", None) else None)
            history_save(run, user=run.started_by, reason="started")
            ReconciliationRun.objects.filter(pk__in=earlier, state=ReconciliationRun.State.SUCCEEDED).update(
                state=ReconciliationRun.State.SUPERSEDED
            )
            settled_claims = _settled_claims(period)
            result = matching.match_period(run_id=run.pk, period=period, settled_ids=list(settled_claims))
            carried = _carry_over(run=run, earlier=earlier)
            Discrepancy.objects.filter(pk__in=[a.pk for a in adjustments]).update(netted_in_run=run)
            progress(1, force=True)
            flows = [(home, destination, fund) for home, destination, _n, fund in result["pairs"]]
            flows += [(a.home_province, a.destination_province, int(a.amount_fen or 0)) for a in adjustments]
            proposals, positions, settled, settled_by = _net_and_propose(run=run, period=period, inputs=inputs, flows=flows)
            progress(2, force=True)
            run.summary = {
                "period": period,
                "counts": {"matched": result["matched"], **result["kinds"], "already_settled": len(result["settled"])},
                "totals": {
                    "matched_fund_fen": sum(p[3] for p in result["pairs"]),
                    "already_transferred_fen": settled,
                    # per province (paid or received), so a province-bound reader sees her own share
                    "already_transferred_by_province": settled_by,
                    "pairs": [{"home": h, "destination": d, "matched": n, "fund_fen": f} for h, d, n, f in result["pairs"]],
                },
                "adjustments": [
                    {
                        "discrepancy": a.pk,
                        "period": a.period,
                        "settlement_id": a.settlement_id,
                        "kind": a.kind,
                        "home": a.home_province,
                        "destination": a.destination_province,
                        "resolution": a.resolution,
                        "amount_fen": a.amount_fen,
                    }
                    for a in adjustments
                ],
                # Claims that match now but were settled by a decision earlier: not netted again.
                "already_settled": [
                    {
                        "discrepancy": settled_claims[claim].pk,
                        "period": period,
                        "settlement_id": claim,
                        "home": home,
                        "destination": destination,
                        "state": settled_claims[claim].state,
                        "resolution": settled_claims[claim].resolution,
                        "amount_fen": settled_claims[claim].amount_fen,
                        "matched_fund_fen": fund,
                    }
                    for home, destination, claim, fund in result["settled"]
                ],
                "carried_over": carried,
                "net_positions": positions,
                "transfers": [{"id": t.pk, "from": p, "to": q, "amount_fen": t.amount_fen, "state": t.state} for p, q, t in proposals],
            }
            run.transfer_ids = [t.pk for _, _, t in proposals]
            run.state = ReconciliationRun.State.SUCCEEDED
            run.finished_at = timezone.now()
            history_save(run, user=run.started_by, reason="finished")
            audit_record(
                action=AuditAction.RECONCILIATION_RUN,
                actor=user,
                obj=run,
                province="",
                detail={
                    "period": period,
                    "counts": run.summary["counts"],
                    "transfers": run.transfer_ids,
                    "adjustments": [a.pk for a in adjustments],
                },
            )
            # Pooling keeps the month's settled amounts (budgets) and checks the advances after commit.
            clearing_recorded.send(
                sender=ReconciliationRun,
                period=period,
                pairs=_money_pairs(result["pairs"], adjustments),
                source=f"reconciliation run #{run.pk}",
            )
            progress(3, force=True)
            return run
    finally:
        progress.close()


def _money_pairs(pairs: list[tuple[str, str, int, int]], adjustments: list[Discrepancy]) -> list[tuple[str, str, int, int]]:
    """Every province pair the run moves money between, as ``clearing_recorded`` reports it:
    (home, destination, matched claims, fund fen): the fund share of the matched claims plus the
    resolved discrepancies netted in the run (which add money, not matched claims), home pays
    destination; pairs in code order."""
    totals: dict[tuple[str, str], list[int]] = {(home, destination): [claims, fund] for home, destination, claims, fund in pairs}
    for a in adjustments:
        totals.setdefault((a.home_province, a.destination_province), [0, 0])[1] += int(a.amount_fen or 0)
    return [(home, destination, claims, fund) for (home, destination), (claims, fund) in sorted(totals.items())]


def _net_and_propose(
    *, run: ReconciliationRun, period: str, inputs: str, flows: list[tuple[str, str, int]]
) -> tuple[Any, dict[str, int], int, dict[str, int]]:
    """``flows``: (home, destination, fund fen) of matched claims per pair and of resolved
    discrepancies; home pays destination."""
    proposer = pooling.system_proposer(name="reconciliation")
    positions = net_positions(flows)
    # What earlier runs of the period already moved counts as paid.
    settled = 0
    settled_by: dict[str, int] = {}
    for transfer in _period_transfers(period, proposer).filter(state__in=[Transfer.State.APPROVED, Transfer.State.POSTED]):
        payer, payee = transfer.from_account.province_code, transfer.to_account.province_code
        positions[payer] = positions.get(payer, 0) + transfer.amount_fen
        positions[payee] = positions.get(payee, 0) - transfer.amount_fen
        settled += transfer.amount_fen
        for code in (payer, payee):
            settled_by[code] = settled_by.get(code, 0) + transfer.amount_fen
    check_balanced(positions)
    accounts = {
        a.province_code: a
        for a in FundAccount.objects.select_related("province").filter(kind=FundAccount.Kind.PROVINCIAL, province__code__in=list(positions))
    }
    # A province that pre-funds clearing pays from its advance (预付金), the others from their fund.
    payers = pooling_selectors.clearing_accounts(province_codes=list(positions))
    proposals = []
    keys = []
    for payer, payee, amount in settle(positions):
        key = _key(period, inputs, payer, payee, amount, payers[payer])
        keys.append(key)
        transfer = pooling.transfer_propose(
            from_account=payers[payer],
            to_account=accounts[payee],
            amount_fen=amount,
            memo=f"reconciliation {period}: {payer} pays {payee} (net)",
            proposer=proposer,
            idempotency_key=key,
        )
        proposals.append((payer, payee, transfer))
    for stale in _period_transfers(period, proposer).filter(state=Transfer.State.PROPOSED).exclude(idempotency_key__in=keys):
        pooling.transfer_void(transfer=stale, user=proposer, reason=f"superseded by reconciliation run #{run.pk}")
    return proposals, dict(sorted(positions.items())), settled, dict(sorted(settled_by.items()))


def _require_national_finance(user: Any) -> None:
    """A run matches, nets and supersedes the proposals of every province: national finance
    users (maker or checker without a province) start it; anyone else 403 permission_denied."""
    require_role(user, Role.FINANCE_MAKER, Role.FINANCE_CHECKER)
    if bound_province(user):
        raise Forbidden(_("reconciliation runs are started by national finance users (without a province)"))


def reconciliation_request(*, period: str, user: Any) -> Job:
    """Queue a run of ``period`` (API, admin); returns the job, a national one. The run starts
    after commit. Raises ValidationFailed (period), Forbidden (not national finance)."""
    check_period(period)
    if user is not None:
        _require_national_finance(user)
    return job_enqueue(kind=RUN_JOB, user=user, params={"period": period}, total=3, province="")


def reconciliation_job_handler(job: Job) -> dict[str, Any]:
    """Run a queued run job (see ``core.jobs.job_run``); the result names the run, its counts and net positions."""
    run = reconciliation_run(period=job.params["period"], user=job.created_by, job=job)
    return {"run": run.pk, **run.summary}


# --- the discrepancy lifecycle -----------------------------------------------------------------

D = Discrepancy.State
MONEY_RESOLUTIONS = (Discrepancy.Resolution.ACCEPT_HOME, Discrepancy.Resolution.ACCEPT_DESTINATION, Discrepancy.Resolution.AGREED_AMOUNT)


def _lock_discrepancy(discrepancy: Discrepancy, user: Any) -> Discrepancy:
    """The discrepancy's row, locked, after its run's row (FOR SHARE, the order a rerun takes
    them in: it supersedes the run, then carries the discrepancy over), so a step and a rerun
    of the period are serialised without deadlock: a rerun waits for the step to commit and
    counts its outcome, or the step waits for the rerun and sees where it left the row
    (``_require_current``). 404 when it does not exist or a province-bound user's province is
    on neither side of it (the wall)."""
    locked = None
    for _attempt in range(3):  # a rerun that committed meanwhile may have carried it to its run
        run_id = Discrepancy.objects.filter(pk=discrepancy.pk).values_list("run_id", flat=True).first()
        if run_id is None:
            break
        with connection.cursor() as cursor:
            cursor.execute(sql.RUN_STATE_FOR_SHARE_SQL, [run_id])
        locked = Discrepancy.objects.select_for_update(of=("self",)).filter(pk=discrepancy.pk).first()
        if locked is None or locked.run_id == run_id:
            break
    province = bound_province(user)
    if locked is None or (province and province not in (locked.home_province, locked.destination_province)):
        raise NotFound(format_lazy(_("no discrepancy #{id}"), id=discrepancy.pk))
    return locked


def _require_party(user: Any, discrepancy: Discrepancy, *roles: str) -> str:
    """A user of one of ``roles`` acting for the home or the destination province; returns that
    province ('' for a superuser). National finance users are no party: 403 ``wrong_province``."""
    require_role(user, *roles)
    if getattr(user, "is_superuser", False):
        return ""
    own = staff_province(user)
    if own not in (discrepancy.home_province, discrepancy.destination_province):
        raise Forbidden(
            _("discrepancies are handled by finance users of the home or the destination province, not the national level"),
            code="wrong_province",
        )
    return own


def _require_current(discrepancy: Discrepancy) -> None:
    """A discrepancy still on a superseded run was not found again by the period's latest run
    (a correction or a withdrawal changed the claim: it may match now and be paid as matched):
    it stays on record, but nobody disputes, resolves or approves it any more, else its claim
    could be paid twice. 409 ``discrepancy_superseded`` (PostgreSQL refuses the step too,
    migration 0008). The run's row is locked already (``_lock_discrepancy``)."""
    state = ReconciliationRun.objects.filter(pk=discrepancy.run_id).values_list("state", flat=True).first()
    if state == ReconciliationRun.State.SUPERSEDED:
        raise Conflict(
            format_lazy(
                _("discrepancy #{id} belongs to superseded run #{run}: the period's latest run no longer finds it"),
                id=discrepancy.pk,
                run=discrepancy.run_id,
            ),
            code="discrepancy_superseded",
        )


def _audit_discrepancy(discrepancy: Discrepancy, *, action: AuditAction, user: Any, province: str, reason: str) -> None:
    audit_record(
        action=action,
        actor=user,
        obj=discrepancy,
        province=province,
        reason=reason,
        detail={
            "run": discrepancy.run_id,
            "kind": discrepancy.kind,
            "settlement_id": discrepancy.settlement_id,
            "home_province": discrepancy.home_province,
            "destination_province": discrepancy.destination_province,
            "state": discrepancy.state,
            "resolution": discrepancy.resolution,
            "amount_fen": discrepancy.amount_fen,
        },
    )


@transaction.atomic
def discrepancy_dispute(*, discrepancy: Discrepancy, user: Any, reason: str) -> Discrepancy:
    """A finance user (maker or checker) of either province disputes an open discrepancy, or a
    proposed resolution (which is then withdrawn), saying why.

    Order: another province's discrepancy 404; not a finance user 403 ``permission_denied``; a
    national user 403 ``wrong_province``; no reason 400; on a superseded run 409
    ``discrepancy_superseded``; neither open nor proposed 409 ``discrepancy_not_open``."""
    locked = _lock_discrepancy(discrepancy, user)
    province = _require_party(user, locked, Role.FINANCE_MAKER, Role.FINANCE_CHECKER)
    require_reason(reason, detail=_("a dispute needs a reason"))
    _require_current(locked)
    if locked.state not in (D.OPEN, D.RESOLUTION_PROPOSED):
        raise Conflict(
            format_lazy(
                _("discrepancy #{id} is {state}: only an open one or a proposal is disputed"), id=locked.pk, state=_d_state(locked.state)
            ),
            code="discrepancy_not_open",
        )
    was = locked.state
    locked.state = D.DISPUTED
    locked.resolution, locked.amount_fen, locked.proposed_by, locked.proposed_province = "", None, None, ""
    locked.reason = reason
    history_save(locked, user=user, reason=f"disputed{' (proposal withdrawn)' if was == D.RESOLUTION_PROPOSED else ''}: {reason}")
    _audit_discrepancy(locked, action=AuditAction.DISCREPANCY_DISPUTED, user=user, province=province, reason=reason)
    return locked


def _resolution_amount(discrepancy: Discrepancy, resolution: str, amount_fen: Any) -> int | None:
    """The fund share the home province pays once the resolution is approved (None: written off)."""
    if resolution not in Discrepancy.Resolution.values:
        raise ValidationFailed(
            _("resolution is accept_home, accept_destination, agreed_amount or write_off"),
            errors=[{"field": "resolution", "code": "invalid", "message": f"{resolution!r}"}],
        )
    if resolution != Discrepancy.Resolution.AGREED_AMOUNT and amount_fen is not None:
        raise ValidationFailed(
            _("amount_fen goes with agreed_amount only"),
            errors=[{"field": "amount_fen", "code": "not_allowed", "message": "only an agreed amount names one"}],
        )
    if resolution == Discrepancy.Resolution.WRITE_OFF:
        return None
    if discrepancy.kind == Discrepancy.Kind.RELEASE_NOT_IN_FORCE:
        # The claim matched and netted already; what is left to decide is the coding, not money.
        raise ValidationFailed(
            _("a claim coded against a release not in force was paid as matched: it is written off (accepted as coded)"),
            errors=[{"field": "resolution", "code": "not_applicable", "message": "use write_off"}],
        )
    if resolution == Discrepancy.Resolution.ACCEPT_HOME:
        return discrepancy.home_fund_fen or 0
    if resolution == Discrepancy.Resolution.ACCEPT_DESTINATION:
        return discrepancy.destination_fund_fen or 0
    try:
        amount = check_fen(amount_fen)
    except MoneyError as exc:
        raise ValidationFailed(
            _("an agreed amount is a whole number of fen"), errors=[{"field": "amount_fen", "code": "required", "message": str(exc)}]
        ) from exc
    if amount < 0:
        raise ValidationFailed(
            _("an agreed amount is not negative"),
            errors=[{"field": "amount_fen", "code": "negative", "message": "the home province pays ≥ 0"}],
        )
    return amount


@transaction.atomic
def discrepancy_resolve(*, discrepancy: Discrepancy, user: Any, resolution: str, reason: str, amount_fen: Any = None) -> Discrepancy:
    """A finance maker of either province proposes how an open or disputed discrepancy ends:
    accept the home value, the destination value (the claim's fund share on that side), an
    agreed amount (``amount_fen``) or a write-off. A finance checker of the other province approves.

    Order: another province's discrepancy 404; not a finance maker 403 ``permission_denied``; a
    national maker 403 ``wrong_province``; bad resolution, amount or no reason 400; on a
    superseded run 409 ``discrepancy_superseded``; not open or disputed 409
    ``discrepancy_not_open``; another paying resolution of the same claim 409
    ``claim_already_resolved`` (a unique index is the backstop)."""
    locked = _lock_discrepancy(discrepancy, user)
    province = _require_party(user, locked, Role.FINANCE_MAKER)
    amount = _resolution_amount(locked, resolution, amount_fen)
    require_reason(reason, detail=_("a proposed resolution needs a reason"))
    _require_current(locked)
    if locked.state not in (D.OPEN, D.DISPUTED):
        raise Conflict(
            format_lazy(_("discrepancy #{id} is {state}, not open or disputed"), id=locked.pk, state=_d_state(locked.state)),
            code="discrepancy_not_open",
        )
    if amount is not None:
        other = (
            Discrepancy.objects.filter(
                period=locked.period, settlement_id=locked.settlement_id, state__in=[D.RESOLUTION_PROPOSED, D.RESOLVED]
            )
            .exclude(resolution=Discrepancy.Resolution.WRITE_OFF)
            .exclude(pk=locked.pk)
            .first()
        )
        if other is not None:
            raise Conflict(
                format_lazy(
                    _("claim {claim} of {period} is already settled by discrepancy #{id} ({state})"),
                    claim=locked.settlement_id,
                    period=locked.period,
                    id=other.pk,
                    state=_d_state(other.state),
                ),
                code="claim_already_resolved",
            )
    locked.state = D.RESOLUTION_PROPOSED
    locked.resolution, locked.amount_fen, locked.reason = resolution, amount, reason
    locked.proposed_by, locked.proposed_province, locked.approved_by = user, province, None
    try:
        with transaction.atomic():
            history_save(locked, user=user, reason=f"resolution proposed ({resolution}): {reason}")
    except IntegrityError as exc:  # the unique index, should two proposals for one claim race
        raise Conflict(
            format_lazy(_("claim {claim} of {period} is already being settled"), claim=locked.settlement_id, period=locked.period),
            code="claim_already_resolved",
        ) from exc
    _audit_discrepancy(locked, action=AuditAction.DISCREPANCY_RESOLUTION_PROPOSED, user=user, province=province, reason=reason)
    _notify_resolution_awaits(locked, proposer=user, proposer_province=province)
    return locked


def _notify_resolution_awaits(discrepancy: Discrepancy, *, proposer: Any, proposer_province: str) -> None:
    """The finance checkers of the other province approve a proposed resolution: one mail each
    per proposal (a resolution proposed again after a dispute is a new occasion), written in the
    proposal's transaction. A superuser's proposal (no province) tells both provinces."""
    sides = (discrepancy.home_province, discrepancy.destination_province)
    others = [code for code in sides if code != proposer_province] if proposer_province else list(sides)
    facts = {
        "id": discrepancy.pk,
        "claim": discrepancy.settlement_id,
        "period": discrepancy.period,
        "resolution": code_label(discrepancy.resolution),
        "proposer": proposer.get_username(),
        "reason": discrepancy.reason,
        "url": portal_url(reverse("admin:reconciliation_discrepancy_change", args=[discrepancy.pk])),
    }
    with mail_language():
        subject = gettext("Discrepancy #%(id)s: a resolution awaits your approval") % facts
        body = (
            gettext("%(proposer)s proposed %(resolution)s for claim %(claim)s of %(period)s: %(reason)s\nApprove or dispute it: %(url)s\n")
            % facts
        )
    proposal = discrepancy.history.filter(state=Discrepancy.State.RESOLUTION_PROPOSED).count()  # type: ignore[attr-defined]
    for province in others:
        awaiting_approval_notify(
            key=f"discrepancy.resolution:{discrepancy.pk}:{proposal}",
            roles=[Role.FINANCE_CHECKER],
            province=province,
            exclude=[proposer],
            subject=subject,
            body=body,
        )


@transaction.atomic
def discrepancy_approve(*, discrepancy: Discrepancy, user: Any, reason: str = "") -> Discrepancy:
    """A finance checker of the province that did not propose approves a proposed resolution:
    the discrepancy is ``resolved`` (its amount nets in the next run) or ``written_off`` (never).

    Order: another province's discrepancy 404; the proposer 409 ``same_user_cannot_approve``
    (before any role check); not a finance checker 403 ``permission_denied``; a checker of the
    proposer's province, or a national one, 403 ``wrong_province``; a checker with a TOTP device
    without OTP 403 ``otp_required``; on a superseded run 409 ``discrepancy_superseded``; nothing
    proposed 409 ``discrepancy_not_proposed``."""
    locked = _lock_discrepancy(discrepancy, user)
    if locked.proposed_by_id is not None and locked.proposed_by_id == getattr(user, "pk", None):
        raise Conflict(_("the proposer of a resolution cannot approve it"), code="same_user_cannot_approve")
    province = _require_party(user, locked, Role.FINANCE_CHECKER)
    if province and province == locked.proposed_province:
        raise Forbidden(
            format_lazy(
                _("a resolution proposed for province {code} is approved by a finance checker of the other province"), code=province
            ),
            code="wrong_province",
        )
    require_otp(user)
    _require_current(locked)
    if locked.state != D.RESOLUTION_PROPOSED:
        raise Conflict(
            format_lazy(_("discrepancy #{id} is {state}: no resolution to approve"), id=locked.pk, state=_d_state(locked.state)),
            code="discrepancy_not_proposed",
        )
    locked.state = D.WRITTEN_OFF if locked.resolution == Discrepancy.Resolution.WRITE_OFF else D.RESOLVED
    locked.approved_by = user
    if reason:
        locked.reason = reason
    history_save(locked, user=user, reason=f"approved: {locked.state}" + (f": {reason}" if reason else ""))
    _audit_discrepancy(locked, action=AuditAction.DISCREPANCY_APPROVED, user=user, province=province, reason=reason)
    return locked


def discrepancy_allowed_actions(*, discrepancy: Discrepancy, user: Any) -> list[str]:
    """Which of dispute / resolve / approve ``user`` may take now (Wagtail's check before execute):
    what the admin page offers as buttons. The services decide again when asked."""
    if not has_role(user, Role.FINANCE_MAKER, Role.FINANCE_CHECKER):
        return []
    superuser = getattr(user, "is_superuser", False)
    own = "" if superuser else staff_province(user)
    if not superuser and own not in (discrepancy.home_province, discrepancy.destination_province):
        return []
    if discrepancy.run.state == ReconciliationRun.State.SUPERSEDED:
        return []
    actions = []
    if discrepancy.state in (D.OPEN, D.RESOLUTION_PROPOSED):
        actions.append("dispute")
    if discrepancy.state in (D.OPEN, D.DISPUTED) and has_role(user, Role.FINANCE_MAKER):
        actions.append("resolve")
    if (
        discrepancy.state == D.RESOLUTION_PROPOSED
        and has_role(user, Role.FINANCE_CHECKER)
        and discrepancy.proposed_by_id != user.pk
        and (superuser or own != discrepancy.proposed_province)
    ):
        actions.append("approve")
    return actions


# --- detaching old months of settlement records (issue 22) --------------------------------------


@transaction.atomic
def settlement_month_detach(*, period: str, actor: str = "manage.py detach_partition") -> dict[str, Any]:
    """Detach the settlement records of ``period`` from the table: they stay in their own table
    ``reconciliation_settlementrecord_pYYYYMM`` (archive it, then drop it); batches, runs and
    discrepancies of the month stay. Returns {partition, records}. Runs as the tables' owner.

    Raises ValidationFailed (period format), NotFound ``partition_unknown``."""
    from apps.core.partitioning import partition_detach, partitions_of

    check_period(period)
    name = f"reconciliation_settlementrecord_p{period.replace('-', '')}"
    if name not in {partition for partition, _ in partitions_of("reconciliation_settlementrecord")}:
        raise NotFound(format_lazy(_("no attached partition {name}"), name=name), code="partition_unknown")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(name)}")
        records = int(cursor.fetchone()[0])
    partition_detach(table="reconciliation_settlementrecord", partition=name)
    detail = {"partition": name, "period": period, "records": records}
    audit_record(
        action=AuditAction.PARTITION_DETACHED, actor=actor, object_type="reconciliation.settlementrecord", object_id=name, detail=detail
    )
    return detail
