"""Month close of a generated period vs a bare SQL GROUP BY of the same rows.

Generates N settlement rows per side (1M quick, 10M full, 33M with BENCH_NATIONAL=1: the national
volume of issue 22; BENCH_ROWS=N overrides) for period 2099-01 with a few mismatches, rows
missing on either side, duplicates and wrongly coded releases, and the same volume for the three
months before it (2098-10 … 2098-12: issue 18 wants the close measured with earlier months in
the table), then times (same process):
- month close: services.reconciliation_run (match + discrepancies + netting + proposals);
- record-level match: matching.match_period alone (rolled back);
- baseline: SELECT settlement_id, count(*), sum(fund_fen) ... WHERE period = … GROUP BY
  settlement_id (the bare GROUP BY of the month), and the same GROUP BY straight over the month's
  partition (the bare limit: no filter, no parent; issue 22); both with the match's work_mem
  (256 MB, set in their transaction), neither parallel (the planner picks no parallel plan for a
  GROUP BY of one group per claim, and the match's INSERT rules one out).
Runs on its own database (DATABASE_URL, default portal_bench_reconcile).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DATABASE_URL", "postgres://root@127.0.0.1:5432/portal_bench_reconcile")

from _setup import judged, print_table, row, setup_django, timed

PERIOD = "2099-01"
LABEL = "2099.01"
EARLIER = ("2098-10", "2098-11", "2098-12")  # in the table while the month closes


class _Rollback(Exception):
    pass


def _generate(n: int, period: str = PERIOD) -> None:
    from django.db import connection, transaction

    from apps.benefits.models import Province
    from apps.catalog.models import CatalogRelease
    from apps.reconciliation.models import Discrepancy, ReconciliationRun, SettlementBatch, SettlementRecord

    if not CatalogRelease.objects.filter(label=LABEL).exists():
        from django.contrib.auth import get_user_model
        from django.utils import timezone

        user, _ = get_user_model().objects.get_or_create(username="bench-reconcile")
        CatalogRelease.objects.create(
            label=LABEL,
            effective_from=dt.date(2099, 1, 1),
            status=CatalogRelease.Status.PUBLISHED,
            approved_by=user,
            published_at=timezone.now(),
            sha256="0" * 64,
        )
    from apps.reconciliation.services import settlement_partition_ensure

    settlement_partition_ensure(period=period)
    sides = sorted(SettlementBatch.objects.filter(period=period).values_list("side", "rows"))
    # The month from an earlier run is kept when it is whole (each side's INSERT is one statement,
    # so an interrupted run leaves a side's batch without its rows).
    if sides == [("destination", n), ("home", n)] and SettlementRecord.objects.filter(period=period).count() > n:
        print(f"reusing the generated {period} ({n:,} rows per side)", file=sys.stderr)
        return
    codes = list(Province.objects.order_by("code").values_list("code", flat=True))
    assert len(codes) >= 2, "the benchmark needs the provinces of the benefits data migration"
    with transaction.atomic():
        Discrepancy.objects.filter(period=period).delete()
        ReconciliationRun.objects.filter(period=period).delete()
        SettlementRecord.objects.filter(period=period).delete()
        SettlementBatch.objects.filter(period=period).delete()
    k = len(codes)
    for side in ("home", "destination"):
        batch = SettlementBatch.objects.create(period=period, side=side, rows=n)
        skew = side == "destination"
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO reconciliation_settlementrecord (batch_id, period, side, settlement_id, home_province, destination_province,"
                " hospital_code, patient_id_hash, date_of_service, release_label, drg_group, drg_flag, total_fen, fund_fen, patient_fen)"
                " SELECT %s, %s, %s, 'S' || g, (%s::text[])[1 + g %% %s], (%s::text[])[1 + (g %% %s + 1 + (g / %s) %% (%s - 1)) %% %s],"
                " 'H' || (g %% 5000), md5(g::text), %s::date + (g %% 28)::int,"
                " CASE WHEN %s AND g %% 1000 = 2 THEN '1999.01' ELSE %s END, 'DRG' || (g %% 600), g %% 3 = 0,"
                " t + CASE WHEN %s AND g %% 1000 = 0 THEN 100 ELSE 0 END, (t * 7) / 10,"
                " t - (t * 7) / 10 + CASE WHEN %s AND g %% 1000 = 0 THEN 100 ELSE 0 END"
                " FROM (SELECT g, 10000 + g %% 5000 AS t FROM generate_series(1, %s) g) x"
                # Claim 1 of every 1000 only the home side has, claim 3 only the destination side.
                " WHERE g %% 1000 <> CASE WHEN %s THEN 1 ELSE 3 END",
                [batch.pk, period, side, codes, k, codes, k, k, k, k, f"{period}-01", skew, LABEL, skew, skew, n, skew],
            )
            # A few duplicates on each side.
            cursor.execute(
                "INSERT INTO reconciliation_settlementrecord (batch_id, period, side, settlement_id, home_province, destination_province,"
                " hospital_code, patient_id_hash, date_of_service, release_label, drg_group, drg_flag, total_fen, fund_fen, patient_fen)"
                " SELECT batch_id, period, side, settlement_id, home_province, destination_province, hospital_code, patient_id_hash,"
                " date_of_service, release_label, drg_group, drg_flag, total_fen, fund_fen, patient_fen"
                " FROM reconciliation_settlementrecord WHERE batch_id = %s AND settlement_id LIKE %s",
                [batch.pk, "S%%7777"],
            )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE reconciliation_settlementrecord")


def _backend_cpu() -> float | None:
    """CPU seconds (user + system) the database connection's server process has used, from
    /proc when PostgreSQL runs on this machine; None when it cannot be read."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(quick: bool = False) -> list[dict[str, Any]]:
    setup_django()
    from django.db import transaction

    from apps.reconciliation import matching, services
    from apps.reconciliation.models import ReconciliationRun

    national = os.environ.get("BENCH_NATIONAL") == "1"
    n = int(os.environ.get("BENCH_ROWS") or (33_000_000 if national else 1_000_000 if quick else 10_000_000))
    for earlier in EARLIER:
        _generate(n, earlier)
    _generate(n)
    partition = f"reconciliation_settlementrecord_p{PERIOD.replace('-', '')}"

    def bare_partition() -> None:
        from django.db import connection

        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute(
                "SELECT count(*), sum(claim_fund_fen) FROM (SELECT settlement_id, count(*), sum(fund_fen) AS claim_fund_fen"
                f" FROM {partition} GROUP BY settlement_id) claims"
            )

    wall: dict[str, list[float]] = {"baseline": [], "bare": [], "match": [], "close": []}
    cpu: dict[str, list[float]] = {k: [] for k in wall}

    def measure(what: str, fn: Any) -> None:
        before = _backend_cpu()
        wall[what].append(timed(fn))
        after = _backend_cpu()
        if before is not None and after is not None:
            cpu[what].append(after - before)

    def match_only() -> None:
        try:
            with transaction.atomic():
                scratch = ReconciliationRun.objects.create(period=PERIOD, inputs="bench")
                matching.match_period(run_id=scratch.pk, period=PERIOD)
                raise _Rollback
        except _Rollback:
            pass

    holder: dict[str, Any] = {}

    def close_run() -> None:
        holder.update(run=services.reconciliation_run(period=PERIOD))

    for _ in range(2):
        measure("baseline", lambda: matching.baseline_group_by(period=PERIOD))
        measure("bare", bare_partition)
    # Twice each (the first warms the cache); the close's rerun supersedes the first run (same
    # discrepancies, same proposals).
    for _ in range(2):
        measure("match", match_only)
    for _ in range(2):
        measure("close", close_run)
    measure("baseline", lambda: matching.baseline_group_by(period=PERIOD))
    measure("bare", bare_partition)
    summary = holder["run"].summary
    baseline, bare, match, close = (min(wall[k]) for k in ("baseline", "bare", "match", "close"))

    counts = summary["counts"]
    label = (
        f"{n / 1_000_000:g}M rows/side, 3 earlier months in the table, {'streaming' if matching.streaming_plan(PERIOD) else 'hash'} plan"
    )
    print(f"counts: {counts}; transfers: {len(summary['transfers'])}", file=sys.stderr)
    rows = [
        row(f"month close ({label}) vs bare GROUP BY of the month", close, baseline, "<= 1.5x (issue 18)"),
        row(f"record-level match ({label}) vs bare GROUP BY", match, baseline, "<= 2x"),
    ]
    figure = f"month close ({label}) vs bare GROUP BY over the month's partition"
    if national:  # issue 22's goal is set at the national volume only
        rows.append(judged(figure, close, bare, limit=1.2, goal="<= 1.2x at 33M/side (issue 22)"))
    else:
        rows.append(row(figure, close, bare, "<= 1.2x at 33M/side (issue 22; not judged at this size)"))
    if all(cpu.values()):
        # The database server's CPU seconds for the same runs: on a shared machine the wall
        # times move with the other users' load, the CPU seconds less (not nothing: caches are shared).
        rows.append(
            row(f"{figure}, PostgreSQL backend CPU", min(cpu["close"]), min(cpu["bare"]), "(companion: moves less with load)", unit="cpu s")
        )
        rows.append(row(f"record-level match ({label}), PostgreSQL backend CPU", min(cpu["match"]), min(cpu["bare"]), "", unit="cpu s"))
    print(f"load average {os.getloadavg()}", file=sys.stderr)
    return rows


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))
