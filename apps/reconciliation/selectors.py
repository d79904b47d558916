"""Reads of reconciliation runs and discrepancies."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Abs
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.benefits.models import Province
from apps.catalog.exports import neutralise_formula
from apps.core.codes import CodeError, validate_province_code
from apps.core.errors import ValidationFailed
from apps.core.jobs import JobView
from apps.core.models import Job
from apps.core.permissions import bound_province, require_money_reader
from apps.core.reasons import reason_label
from apps.pooling.models import Transfer

from . import sql
from .matching import active_batch_ids
from .models import Discrepancy, ReconciliationRun, SettlementBatch

CSV_COLUMNS = (
    "kind",
    "settlement_id",
    "side",
    "field",
    "home_province",
    "destination_province",
    "home_value",
    "destination_value",
    "delta_fen",
    "expected",
    "count",
)


def runs() -> QuerySet[ReconciliationRun]:
    return ReconciliationRun.objects.all()


def discrepancies(
    *, run: ReconciliationRun, home: str = "", destination: str = "", province: str = "", kind: str = "", hospital: str = ""
) -> QuerySet[Discrepancy]:
    """The run's discrepancies, optionally of one pair, kind or hospital; ``province`` keeps only
    the pairs involving that province (what a provincial user may see)."""
    rows = Discrepancy.objects.filter(run=run)
    if kind:
        rows = rows.filter(kind=kind)
    if hospital:
        rows = rows.filter(hospital_code=hospital)
    if province:
        rows = rows.filter(Q(home_province=province) | Q(destination_province=province))
    if home:
        rows = rows.filter(home_province=home)
    if destination:
        rows = rows.filter(destination_province=destination)
    return rows.order_by("id")


def discrepancies_csv(*, run: ReconciliationRun, home: str = "", destination: str = "", province: str = "") -> Iterator[str]:
    """The run's discrepancies (optionally of one province pair) as CSV lines, streamed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    for row in (
        discrepancies(run=run, home=home, destination=destination, province=province).values_list(*CSV_COLUMNS).iterator(chunk_size=5000)
    ):
        buffer.seek(0)
        buffer.truncate()
        # Settlement ids, hospital codes and DRG groups come from imported files: a cell that
        # starts like a formula is neutralised so a spreadsheet shows it instead of running it.
        writer.writerow(["" if v is None else neutralise_formula(v) if isinstance(v, str) else v for v in row])
        yield buffer.getvalue()


def _involves(province: str, *codes: str) -> bool:
    return not province or province in codes


def run_pairs(*, run: ReconciliationRun, province: str = "") -> list[dict[str, Any]]:
    """One row per province pair of the run (matched claims or discrepancies), ordered by home
    then destination: ``{home, destination, matched, fund_fen, kinds: {kind: n}, discrepancies}``.
    ``province`` keeps the pairs involving it. Two queries at most."""
    pairs: dict[tuple[str, str], dict[str, Any]] = {}

    def pair(home: str, destination: str) -> dict[str, Any]:
        if (home, destination) not in pairs:
            pairs[home, destination] = {
                "home": home,
                "destination": destination,
                "matched": 0,
                "fund_fen": 0,
                "kinds": dict.fromkeys(Discrepancy.Kind.values, 0),
                "discrepancies": 0,
            }
        return pairs[home, destination]

    for p in run.summary.get("totals", {}).get("pairs", []):
        if _involves(province, p["home"], p["destination"]):
            pair(p["home"], p["destination"]).update(matched=p["matched"], fund_fen=p["fund_fen"])
    counts = (
        discrepancies(run=run, province=province).order_by().values("home_province", "destination_province", "kind").annotate(n=Count("id"))
    )
    for c in counts:
        row = pair(c["home_province"], c["destination_province"])
        row["kinds"][c["kind"]] = c["n"]
        row["discrepancies"] += c["n"]
    names = dict(Province.objects.filter(code__in={code for key in pairs for code in key}).values_list("code", "name"))
    for row in pairs.values():
        row["home_name"], row["destination_name"] = names.get(row["home"], ""), names.get(row["destination"], "")
    return [pairs[key] for key in sorted(pairs)]


def run_transfers(*, run: ReconciliationRun, province: str = "") -> list[Transfer]:
    """The transfers the run proposed (current state), optionally those paid or received by ``province``."""
    rows = Transfer.objects.filter(pk__in=run.transfer_ids).select_related("from_account__province", "to_account__province")
    return [t for t in rows.order_by("pk") if _involves(province, t.from_account.province_code, t.to_account.province_code)]


def run_net_positions(*, run: ReconciliationRun, province: str = "") -> list[tuple[str, int]]:
    """Net positions of the run; a province-bound reader's own only."""
    positions: dict[str, int] = run.summary.get("net_positions", {})
    return [(code, amount) for code, amount in sorted(positions.items()) if _involves(province, code)]


def run_summary_for(*, run: ReconciliationRun, province: str = "") -> dict[str, Any]:
    """The run's summary as a reader of ``province`` may see it ('' = national: all of it): the
    pairs involving her province, counts and totals over those pairs, her own net position and
    settled share, and the proposed transfers she pays or receives. The one place a run is cut
    down for a province (run detail API, job result, admin)."""
    summary = run.summary or {}
    if not province:
        return {**summary, "transfer_ids": list(run.transfer_ids)}
    pairs = run_pairs(run=run, province=province)
    counts = dict.fromkeys(["matched", *Discrepancy.Kind.values], 0)
    for pair in pairs:
        counts["matched"] += pair["matched"]
        for kind, n in pair["kinds"].items():
            counts[kind] += n
    already_settled = [c for c in summary.get("already_settled", []) if province in (c.get("home"), c.get("destination"))]
    counts["already_settled"] = len(already_settled)
    totals = summary.get("totals", {})
    settled_by = totals.get("already_transferred_by_province")
    transfers = [t for t in summary.get("transfers", []) if province in (t.get("from"), t.get("to"))]
    return {
        "period": summary.get("period", run.period),
        "counts": counts,
        "totals": {
            "matched_fund_fen": sum(p["fund_fen"] for p in pairs),
            # runs from before the per-province split do not say: unknown rather than the national sum
            "already_transferred_fen": None if settled_by is None else settled_by.get(province, 0),
            "pairs": [
                {"home": p["home"], "destination": p["destination"], "matched": p["matched"], "fund_fen": p["fund_fen"]} for p in pairs
            ],
        },
        "adjustments": [a for a in summary.get("adjustments", []) if province in (a.get("home"), a.get("destination"))],
        "already_settled": already_settled,
        "net_positions": {code: amount for code, amount in summary.get("net_positions", {}).items() if code == province},
        "transfers": transfers,
        "transfer_ids": [t["id"] for t in transfers],
    }


# --- what a reader may see of a job (registered with the job kinds in ReconciliationConfig.ready) ---


def settlement_import_job_reader(*, job: Job, user: Any) -> JobView:
    """A settlement import's outcome (rows, amounts in its errors) is money: the allow-list reads it."""
    require_money_reader(user)
    return JobView(result=job.result, errors=job.errors)


def reconciliation_job_reader(*, job: Job, user: Any) -> JobView:
    """A run's job result as ``user`` may see it: money readers only; a province-bound one gets
    the pairs involving her province and her own net position (``run_summary_for``)."""
    require_money_reader(user)
    province = bound_province(user)
    if not province or "run" not in job.result:  # national reader, or a failed job's detail
        return JobView(result=job.result, errors=job.errors)
    run = ReconciliationRun.objects.filter(pk=job.result.get("run")).first()
    summary = run_summary_for(run=run, province=province) if run is not None else {}
    return JobView(result={"run": job.result.get("run"), **summary}, errors=job.errors)


# --- batches, discrepancies and hospitals (issue 18) -------------------------------------------


def batches_visible_to(*, user: Any, period: str = "") -> QuerySet[SettlementBatch]:
    """Settlement batches a money reader may see: a province-bound one her province's only."""
    require_money_reader(user)
    rows = SettlementBatch.objects.all()
    province = bound_province(user)
    if province:
        rows = rows.filter(province=province)
    if period:
        rows = rows.filter(period=period)
    return rows


def discrepancies_visible_to(*, user: Any) -> QuerySet[Discrepancy]:
    """Discrepancies a money reader may see: a province-bound one those of pairs involving her province."""
    require_money_reader(user)
    rows = Discrepancy.objects.all()
    province = bound_province(user)
    if province:
        rows = rows.filter(Q(home_province=province) | Q(destination_province=province))
    return rows


def discrepancy_timeline(*, discrepancy: Discrepancy) -> list[dict[str, Any]]:
    """Who did what to a discrepancy, when and why, oldest first: found by its run, then every
    lifecycle step (its history rows, each written by the service that took the step)."""
    steps: list[dict[str, Any]] = []
    for row in discrepancy.history.order_by("history_date", "history_id").select_related("history_user"):
        stored = row.history_change_reason or ""
        typed = _STEP_REASON.match(stored)
        steps.append(
            {
                "at": row.history_date,
                "user": row.history_user.get_username() if row.history_user else "",
                "state": row.state,
                "state_label": Discrepancy.State(row.state).label,
                "resolution": row.resolution,
                "resolution_label": Discrepancy.Resolution(row.resolution).label if row.resolution else "",
                "amount_fen": row.amount_fen,
                # The services store "<step> (<resolution>): <reason typed>"; the step and the
                # resolution are the row's state and resolution, shown by their labels: people
                # read the reason they typed, not the stored English prefix.
                "why": (typed.group("why") or "") if typed else reason_label(stored),
            }
        )
    return steps


# How the discrepancy services word a step's stored reason (services.discrepancy_dispute,
# discrepancy_resolve, discrepancy_approve).
_STEP_REASON = re.compile(r"^(?:disputed(?: \(proposal withdrawn\))?|resolution proposed \(\w+\)|approved: \w+)(?:: (?P<why>.*))?$", re.S)


def latest_run(*, period: str) -> ReconciliationRun | None:
    """The period's run in force: the last that succeeded."""
    return ReconciliationRun.objects.filter(period=period, state=ReconciliationRun.State.SUCCEEDED).order_by("-pk").first()


COMPLIANCE_COLUMNS = (
    "destination_province",
    "hospital_code",
    "release_not_in_force",
    "lapsed_local_items",
    "amount_mismatches",
    "mismatch_fen",
    "claims",
    "period",
)


def requested_province(raw: str) -> str:
    """A province asked for in a query (the compliance report's destination province, '' = every
    one; a clearing statement's province), normalised by the one rule for province codes (``apps.core.codes.validate_province_code``: GB/T 2260
    prefixes, XPCC). Raises ValidationFailed (``errors[].code`` ``invalid``, field ``province``)."""
    if not raw:
        return ""
    try:
        return validate_province_code(raw)
    except CodeError as exc:
        raise ValidationFailed(
            format_lazy(_("province {code!r} is not a province code"), code=exc.code),
            errors=[{"field": "province", "code": "invalid", "message": exc.reason}],
        ) from exc


def compliance_report(*, period: str, province: str = "") -> list[dict[str, Any]]:
    """Hospitals of destination provinces ranked by what they get wrong in ``period``'s run in
    force: claims coded against a release not in force (on the destination side), claims billing
    a local item after its sunset, and amount mismatches (with the sum of |Δ fund|), worst first
    (then by hospital code). ``province`` keeps one destination province ('' = every one: the
    national view). Empty when the period has no run yet."""
    run = latest_run(period=period)
    if run is None:
        return []
    rows = Discrepancy.objects.filter(run=run)
    if province:
        rows = rows.filter(destination_province=province)
    ranked = (
        rows.exclude(hospital_code="")
        .values("destination_province", "hospital_code")
        .annotate(
            release_not_in_force=Count("settlement_id", filter=Q(kind="release_not_in_force", side="destination"), distinct=True),
            amount_mismatches=Count("settlement_id", filter=Q(kind="amount_mismatch"), distinct=True),
            mismatch_fen=Sum(Abs("delta_fen"), filter=Q(kind="amount_mismatch", field="fund_fen"), default=0),
            claims=Count("settlement_id", distinct=True),
        )
        .order_by()
    )
    lapsed = lapsed_local_items_billed(period=period, batch_ids=active_batch_ids(period), province=province)
    report: dict[tuple[str, str], dict[str, Any]] = {}
    for row in ranked:
        report[row["destination_province"], row["hospital_code"]] = {**row, "lapsed_local_items": 0, "period": period}
    for (dest, hospital), n in lapsed.items():
        entry = report.setdefault(
            (dest, hospital),
            {
                "destination_province": dest,
                "hospital_code": hospital,
                "release_not_in_force": 0,
                "amount_mismatches": 0,
                "mismatch_fen": 0,
                "claims": 0,
                "period": period,
            },
        )
        entry["lapsed_local_items"] = n
    return sorted(
        report.values(),
        key=lambda r: (
            -(r["release_not_in_force"] + r["lapsed_local_items"] + r["amount_mismatches"]),
            -r["mismatch_fen"],
            r["hospital_code"],
        ),
    )


def lapsed_local_items_billed(*, period: str, batch_ids: list[int], province: str = "") -> dict[tuple[str, str], int]:
    """{(destination province, hospital): claims billing a local item after its sunset} of the period's active batches."""
    with connection.cursor() as cursor:
        cursor.execute(sql.LAPSED_LOCAL_ITEMS_SQL, [period, batch_ids, province, province])
        return {(dest, hospital): int(n) for dest, hospital, n in cursor.fetchall()}


def compliance_csv(rows: list[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COMPLIANCE_COLUMNS)
    for row in rows:
        writer.writerow([neutralise_formula(row[c]) if isinstance(row[c], str) else row[c] for c in COMPLIANCE_COLUMNS])
    yield buffer.getvalue()
