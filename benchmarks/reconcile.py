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
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DATABASE_URL", "postgres://root@127.0.0.1:5432/portal_bench_reconcile")

from _setup import judged, print_table, row, setup_django, timed

PERIOD = "2099-01"
LABEL = "2099.01"
EARLIER = ("2098-10", "2098-11", "2098-12")  # in the table while the month closes
PGDATA = "/var/lib/postgresql"  # where the database keeps its files (this machine's PostgreSQL)
KEEP_FREE = 15 * 10**9  # bytes a generation must leave free on that disk (others work on it too)
# Bytes per generated row with both indexes (heap 180, indexes 75: 0.51 GB a month of 1M rows
# per side, measured), and the most the generation of a month needs beside them while it runs
# (the index builds' sort files, WAL not yet recycled), freed when it ends.
BYTES_PER_ROW = 260
TRANSIENT_BYTES_PER_ROW = 50


class _Rollback(Exception):
    pass


def _month_is_whole(n: int, period: str) -> bool:
    """The month from an earlier run is kept when it is whole: both sides' batches of n rows and
    their rows (it is generated in one transaction, so an interrupted run leaves nothing)."""
    from apps.reconciliation.models import SettlementBatch, SettlementRecord

    sides = sorted(SettlementBatch.objects.filter(period=period).values_list("side", "rows"))
    return sides == [("destination", n), ("home", n)] and SettlementRecord.objects.filter(period=period).count() > n


def _partition_bytes(months: list[tuple[str, int]]) -> int:
    """Bytes the partitions of these months (period, rows per side) take now, those not whole
    only (their regeneration frees them first)."""
    from django.db import connection

    periods = [period for period, n in months if not _month_is_whole(n, period)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_total_relation_size(to_regclass('reconciliation_settlementrecord_p' || replace(p, '-', '')))), 0)"
            " FROM unnest(%s::text[]) p",
            [periods],
        )
        return int(cursor.fetchone()[0])


def _check_disk(months: list[tuple[str, int]], freed: int = 0) -> None:
    """Refuse (SystemExit) when generating these months (period, rows per side) would leave
    less than KEEP_FREE bytes free on the database's disk, at the end or while the largest of
    them is generated (``freed``: bytes their regeneration frees first)."""
    if not months:
        return
    needed = sum(2 * n * BYTES_PER_ROW for _, n in months) + max(2 * n * TRANSIENT_BYTES_PER_ROW for _, n in months)
    free = shutil.disk_usage(PGDATA).free + freed
    if free - needed < KEEP_FREE:
        what = ", ".join(f"{period} ({n / 1_000_000:g}M rows/side)" for period, n in months)
        raise SystemExit(
            f"refusing to generate {what}: it needs about {needed / 1e9:.1f} GB ({BYTES_PER_ROW} bytes per row with its indexes,"
            f" {TRANSIENT_BYTES_PER_ROW} more while the indexes are built) and {free / 1e9:.1f} GB is free on {PGDATA}"
            f" (counting what the regeneration frees first), which would leave less than {KEEP_FREE / 1e9:.0f} GB free;"
            " set BENCH_EARLIER_ROWS (the three earlier months) or BENCH_ROWS lower, or free disk"
        )


def _generate(n: int, period: str = PERIOD) -> None:
    from django.db import connection, transaction

    from apps.benefits.models import Province
    from apps.catalog.models import CatalogRelease
    from apps.reconciliation.models import Discrepancy, ReconciliationRun, SettlementBatch

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

    # The month's partition as production creates it (attached, with the parent's indexes,
    # constraints, foreign key and grants).
    partition = settlement_partition_ensure(period=period)
    if _month_is_whole(n, period):
        print(f"reusing the generated {period} ({n:,} rows per side)", file=sys.stderr)
        return
    codes = list(Province.objects.order_by("code").values_list("code", flat=True))
    assert len(codes) >= 2, "the benchmark needs the provinces of the benefits data migration"
    with transaction.atomic(), connection.cursor() as cursor:
        Discrepancy.objects.filter(period=period).delete()
        ReconciliationRun.objects.filter(period=period).delete()
        cursor.execute(f"TRUNCATE {partition}")  # a month of an earlier, interrupted or other-sized run
        SettlementBatch.objects.filter(period=period).delete()
    _check_disk([(period, n)])  # after the TRUNCATE has freed the month's old files
    started = time.perf_counter()
    k = len(codes)
    parent = "reconciliation_settlementrecord"
    with transaction.atomic(), connection.cursor() as cursor:
        # Loaded unindexed, indexes built once afterwards (instead of maintained row by row, the
        # text index in random order), all in one transaction: an interruption leaves the month
        # attached and empty. The partition's own indexes and constraints as production made them:
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid), con.conname, pg_get_constraintdef(con.oid) FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid"
            " AND con.conrelid = x.indrelid AND con.contype IN ('p', 'u', 'x') WHERE x.indrelid = %s::regclass ORDER BY i.relname",
            [partition],
        )
        indexes = cursor.fetchall()
        cursor.execute(f"ALTER TABLE {parent} DETACH PARTITION {partition}")
        # Detached, its indexes are standalone and may be dropped (the inherited checks and the
        # foreign key stay; the identity default does not: ids come from the parent's sequence below).
        for name, _definition, constraint, _condef in indexes:
            cursor.execute(f'ALTER TABLE {partition} DROP CONSTRAINT "{constraint}"' if constraint else f'DROP INDEX "{name}"')
        # So that ATTACH below finds the partition constraint implied and skips its validating scan.
        cursor.execute(f"ALTER TABLE {partition} ADD CONSTRAINT bench_period_only CHECK (period = %s)", [period])
        # Replica mode (the benchmark connects as a superuser) fires no per-row trigger, here only
        # the deferred foreign key's check on batch_id, which would queue one event per row: every
        # row names the batch created just before it, so it is valid by construction. The table's
        # CHECK constraints are still checked row by row.
        cursor.execute("SET LOCAL session_replication_role = replica")
        for side in ("home", "destination"):
            batch = SettlementBatch.objects.create(period=period, side=side, rows=n)
            skew = side == "destination"
            cursor.execute(
                f"INSERT INTO {partition} (id, batch_id, period, side, settlement_id, home_province, destination_province,"
                " hospital_code, patient_id_hash, date_of_service, release_label, drg_group, drg_flag, total_fen, fund_fen, patient_fen)"
                " SELECT nextval(pg_get_serial_sequence(%s, 'id')), %s, %s, %s, 'S' || g, (%s::text[])[1 + g %% %s],"
                " (%s::text[])[1 + (g %% %s + 1 + (g / %s) %% (%s - 1)) %% %s],"
                " 'H' || (g %% 5000), md5(g::text), %s::date + (g %% 28)::int,"
                " CASE WHEN %s AND g %% 1000 = 2 THEN '1999.01' ELSE %s END, 'DRG' || (g %% 600), g %% 3 = 0,"
                " t + CASE WHEN %s AND g %% 1000 = 0 THEN 100 ELSE 0 END, (t * 7) / 10,"
                " t - (t * 7) / 10 + CASE WHEN %s AND g %% 1000 = 0 THEN 100 ELSE 0 END"
                " FROM (SELECT g, 10000 + g %% 5000 AS t FROM generate_series(1, %s) g) x"
                # Claim 1 of every 1000 only the home side has, claim 3 only the destination side.
                " WHERE g %% 1000 <> CASE WHEN %s THEN 1 ELSE 3 END",
                [parent, batch.pk, period, side, codes, k, codes, k, k, k, k, f"{period}-01", skew, LABEL, skew, skew, n, skew],
            )
            # A few duplicates on each side.
            cursor.execute(
                f"INSERT INTO {partition} (id, batch_id, period, side, settlement_id, home_province, destination_province,"
                " hospital_code, patient_id_hash, date_of_service, release_label, drg_group, drg_flag, total_fen, fund_fen, patient_fen)"
                " SELECT nextval(pg_get_serial_sequence(%s, 'id')), batch_id, period, side, settlement_id, home_province,"
                " destination_province, hospital_code, patient_id_hash, date_of_service, release_label, drg_group, drg_flag,"
                f" total_fen, fund_fen, patient_fen FROM {partition} WHERE batch_id = %s AND settlement_id LIKE %s",
                [parent, batch.pk, "S%%7777"],
            )
        cursor.execute("SET LOCAL session_replication_role = origin")
        loaded = time.perf_counter()
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        for _name, definition, constraint, condef in indexes:
            cursor.execute(f'ALTER TABLE {partition} ADD CONSTRAINT "{constraint}" {condef}' if constraint else definition)
        # The indexes match the parent's, so ATTACH attaches them instead of building new ones.
        cursor.execute(f"ALTER TABLE {parent} ATTACH PARTITION {partition} FOR VALUES IN (%s)", [period])
        cursor.execute(f"ALTER TABLE {partition} DROP CONSTRAINT bench_period_only")
    built = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {parent}")
        cursor.execute("SELECT pg_total_relation_size(%s), pg_relation_size(%s)", [partition, partition])
        total, heap = cursor.fetchone()
    print(
        f"generated {period} ({n:,} rows per side): {time.perf_counter() - started:.0f} s (load {loaded - started:.0f} s,"
        f" indexes + attach {built - loaded:.0f} s, vacuum analyze {time.perf_counter() - built:.0f} s); {total / 1e9:.2f} GB"
        f" with indexes ({heap / 1e9:.2f} GB heap); load average {os.getloadavg()}",
        file=sys.stderr,
        flush=True,
    )


def _uptime(when: str) -> None:
    """The machine's load (``uptime``) on stderr: the timed runs share the cores with others."""
    # TZ: Django set the portal's zone in the environment; the report's clock is UTC.
    out = subprocess.run(["uptime"], capture_output=True, text=True, check=False, env={**os.environ, "TZ": "UTC"}).stdout.strip()
    print(f"uptime {when}: {out}", file=sys.stderr, flush=True)


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
    # The three earlier months' size (default the month's): smaller when the disk cannot hold four.
    n_earlier = int(os.environ.get("BENCH_EARLIER_ROWS") or n)
    months = [(earlier, n_earlier) for earlier in EARLIER] + [(PERIOD, n)]
    _check_disk([(period, size) for period, size in months if not _month_is_whole(size, period)], freed=_partition_bytes(months))
    for period, size in months:
        _generate(size, period)
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

    _uptime("before the timed runs")
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
    _uptime("after the timed runs")
    summary = holder["run"].summary
    baseline, bare, match, close = (min(wall[k]) for k in ("baseline", "bare", "match", "close"))

    counts = summary["counts"]
    plan = "streaming" if matching.streaming_plan(PERIOD) else "hash"
    label = f"{n / 1_000_000:g}M rows/side, 3 earlier months of {n_earlier / 1_000_000:g}M rows/side in the table, {plan} plan"
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
