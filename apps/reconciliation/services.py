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
  fingerprint, the pair and the amount, so a rerun on the same inputs replays the same
  proposals (no duplicates) and a rerun after new imports voids the earlier unapproved ones
  (never approved or posted ones).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import PurePath
from typing import IO, Any

from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from apps.core.audit import audit_record, history_save
from apps.core.bulk import JobProgress
from apps.core.errors import Forbidden, NotFound, ValidationFailed
from apps.core.jobs import job_enqueue
from apps.core.models import AuditAction, Job
from apps.core.permissions import bound_province, require_role
from apps.core.roles import Role
from apps.pooling import selectors as pooling_selectors
from apps.pooling import services as pooling
from apps.pooling.models import FundAccount, Transfer
from apps.pooling.signals import clearing_recorded

from . import matching
from .importer import copy_settlements
from .models import Discrepancy, ReconciliationRun, SettlementBatch, Side
from .netting import check_balanced, net_positions, settle

IMPORT_JOB = "reconciliation.import"
RUN_JOB = "reconciliation.run"
KEY_PREFIX = "reconciliation"
_PERIOD = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")


def check_period(period: str) -> str:
    if not isinstance(period, str) or not _PERIOD.match(period):
        raise ValidationFailed(
            "period is YYYY-MM", errors=[{"field": "period", "code": "invalid", "message": f"{period!r} is not YYYY-MM"}]
        )
    return period


def previous_period(today: dt.date) -> str:
    first = today.replace(day=1) - dt.timedelta(days=1)
    return f"{first.year:04d}-{first.month:02d}"


def _check_side(side: str) -> str:
    if side not in Side.values:
        raise ValidationFailed("side is destination or home", errors=[{"field": "side", "code": "invalid", "message": f"{side!r}"}])
    return side


# --- imports -----------------------------------------------------------------------------------


def settlement_partition_ensure(*, period: str) -> None:
    """Create the month's partition of settlement records if it is missing (migration 0004), in
    a short transaction of its own: creating it locks the records table, which must not last for
    a whole import."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT reconciliation_settlement_partition_ensure(%s)", [period])


def settlement_import(*, period: str, side: str, file: IO[bytes], user: Any, job: Job | None = None, filename: str = "") -> dict[str, Any]:
    """Import one side's settlement CSV for ``period`` as a new batch; returns {batch, rows, period, side}.

    Raises ValidationFailed (period/side), Forbidden (role) and
    BulkFileRejected (``import_rejected``) with every bad row; nothing is written then.
    ``user`` None is an operator or the scheduler."""
    check_period(period)
    _check_side(side)
    if user is not None:
        require_role(user, Role.FINANCE_MAKER)
    province = bound_province(user)
    progress = JobProgress(job.pk if job else None)
    settlement_partition_ensure(period=period)
    try:
        with transaction.atomic():
            batch = SettlementBatch(period=period, side=side, filename=PurePath(filename).name[:255], imported_by=user)
            history_save(batch, user=user, reason="imported")
            rows = copy_settlements(file=file, progress=progress, batch_id=batch.pk, period=period, side=side, province=province)
            SettlementBatch.objects.filter(pk=batch.pk).update(rows=rows)
            audit_record(
                action=AuditAction.SETTLEMENTS_IMPORTED,
                actor=user,
                obj=batch,
                province=province,
                detail={"period": period, "side": side, "rows": rows, "filename": batch.filename},
            )
            return {"batch": batch.pk, "rows": rows, "period": period, "side": side}
    finally:
        progress.close()


def settlement_import_enqueue(*, period: str, side: str, upload: Any, user: Any) -> Job:
    """Store an upload and queue its import (API, admin); checks run at request time."""
    check_period(period)
    _check_side(side)
    require_role(user, Role.FINANCE_MAKER)
    return job_enqueue(kind=IMPORT_JOB, user=user, params={"period": period, "side": side}, upload=upload, province=bound_province(user))


def settlement_import_job_handler(job: Job) -> dict[str, Any]:
    """Run a queued settlement import job (see ``core.jobs.job_run``)."""
    params = job.params
    with default_storage.open(params["path"], "rb") as file:
        return settlement_import(
            period=params["period"], side=params["side"], file=file, user=job.created_by, job=job, filename=params["filename"]
        )


# --- runs --------------------------------------------------------------------------------------


def _inputs(period: str) -> str:
    ids = ",".join(str(i) for i in SettlementBatch.objects.filter(period=period).order_by("pk").values_list("pk", flat=True))
    return hashlib.sha256(f"{period}|{ids}".encode()).hexdigest()


def _key(period: str, inputs: str, payer: str, payee: str, amount: int) -> str:
    return f"{KEY_PREFIX}:{period}:{inputs[:16]}:{payer}>{payee}:{amount}"


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
            inputs = _inputs(period)
            run = ReconciliationRun(period=period, inputs=inputs, job=job, started_by=user if getattr(user, "pk", None) else None)
            history_save(run, user=run.started_by, reason="started")
            earlier = list(ReconciliationRun.objects.filter(period=period).exclude(pk=run.pk).values_list("pk", flat=True))
            Discrepancy.objects.filter(run_id__in=earlier).delete()
            ReconciliationRun.objects.filter(pk__in=earlier, state=ReconciliationRun.State.SUCCEEDED).update(
                state=ReconciliationRun.State.SUPERSEDED
            )
            result = matching.match_period(run_id=run.pk, period=period)
            progress(1, force=True)
            proposals, positions, settled, settled_by = _net_and_propose(run=run, period=period, inputs=inputs, pairs=result["pairs"])
            progress(2, force=True)
            run.summary = {
                "period": period,
                "counts": {"matched": result["matched"], **result["kinds"]},
                "totals": {
                    "matched_fund_fen": sum(p[3] for p in result["pairs"]),
                    "already_transferred_fen": settled,
                    # per province (paid or received), so a province-bound reader sees her own share
                    "already_transferred_by_province": settled_by,
                    "pairs": [{"home": h, "destination": d, "matched": n, "fund_fen": f} for h, d, n, f in result["pairs"]],
                },
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
                detail={"period": period, "counts": run.summary["counts"], "transfers": run.transfer_ids},
            )
            # Pooling keeps the month's settled amounts (budgets) and checks the advances after commit.
            clearing_recorded.send(sender=ReconciliationRun, period=period, pairs=result["pairs"], source=f"reconciliation run #{run.pk}")
            progress(3, force=True)
            return run
    finally:
        progress.close()


def _net_and_propose(
    *, run: ReconciliationRun, period: str, inputs: str, pairs: list[tuple[str, str, int, int]]
) -> tuple[Any, dict[str, int], int, dict[str, int]]:
    proposer = pooling.system_proposer(name="reconciliation")
    positions = net_positions((home, destination, fund) for home, destination, _n, fund in pairs)
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
        key = _key(period, inputs, payer, payee, amount)
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
        raise Forbidden("reconciliation runs are started by national finance users (without a province)")


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
        raise NotFound(f"no attached partition {name}", code="partition_unknown")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(name)}")
        records = int(cursor.fetchone()[0])
    partition_detach(table="reconciliation_settlementrecord", partition=name)
    detail = {"partition": name, "period": period, "records": records}
    audit_record(
        action=AuditAction.PARTITION_DETACHED, actor=actor, object_type="reconciliation.settlementrecord", object_id=name, detail=detail
    )
    return detail
