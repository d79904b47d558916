"""Ledger posting throughput and balance look-up (issue 8).

1. Posting: 8 worker processes (not threads: each its own interpreter and connection) approve
   and post proposed transfers between 100 accounts (the real service: permission checks, one
   database call that locks the transfer and both accounts in primary-key order, checks the
   overdraft, writes two entries, moves the balances by trigger, history rows, the audit event,
   deferred balance checks at commit). The bare limit: the same 8 processes INSERT the same two
   entries per transfer, one transaction each, into a bare table with no constraints, triggers or
   locks, in the same run. Goal (issue 22): posting at >= 1/4 of the bare INSERT rate.
2. Balance of an account with 1M entries (100k with --quick): the maintained balance column read
   through the ORM, and the selector that sums the entries, each against a raw ``SUM`` over the
   same entries.
3. Risk adjustment over every city of China (issue 19): the month's figures of all 364 pooling
   regions imported from one CSV, the provincial runs of every adjustment-fund province and the
   national run (each contribution and allocation a proposed transfer: service, history, audit),
   then all of them approved and posted by 8 checker processes in dependency order (regions pay
   in, the provinces allocate and pay the national fund, the national fund allocates). Bare
   limits: the same number of transfer rows written by one bare multi-row INSERT; posting as in 1
   (the same 8 processes INSERT the entries of the same transfers into a bare table).

Run: ``.venv/bin/python benchmarks/ledger.py [--quick]`` (DATABASE_URL defaults to portal_h8_bench);
``--adjustment`` runs part 3 only.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import print_table, setup_django

WORKERS = 8
ACCOUNTS = 100
BENCH_PROVINCE = "BN0000"  # not a GB/T 2260 code on purpose: never collides with real data


def _in_threads(jobs: list[Any], work: Callable[[Any], None]) -> float:
    """Run ``work`` over ``jobs`` with WORKERS threads (own connections); wall-clock seconds.
    Used only to fund accounts outside the timings."""
    from django.db import connection

    chunks = [jobs[i::WORKERS] for i in range(WORKERS)]
    errors: list[BaseException] = []

    def worker(chunk: list[Any]) -> None:
        try:
            for job in chunk:
                work(job)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - start


def _in_processes(jobs: list[Any], work: Callable[[Any], None]) -> float:
    """Run ``work`` over ``jobs`` in WORKERS forked processes, each with its own interpreter and
    its own database connection (no GIL shared), started together behind a barrier; wall-clock
    seconds from the barrier to the last process's end. A failing process fails the run."""
    from django.db import connections

    connections.close_all()  # never share the parent's socket with the children
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(WORKERS + 1)
    chunks = [jobs[i::WORKERS] for i in range(WORKERS)]

    def worker(chunk: list[Any]) -> None:
        from django.db import connection

        try:
            connection.ensure_connection()  # connect before the clock starts, as the baseline does
            barrier.wait()
            for job in chunk:
                work(job)
        finally:
            connection.close()

    processes = [context.Process(target=worker, args=(chunk,)) for chunk in chunks]
    for process in processes:
        process.start()
    barrier.wait()
    start = time.perf_counter()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - start
    failed = [p.exitcode for p in processes if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} worker processes failed (exit codes {failed})")
    return elapsed


def _bare_entries_table() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_bare_entries (id bigserial PRIMARY KEY, account_id bigint, transfer_id bigint, "
            "amount_fen bigint, posted_at timestamptz)"
        )
        cursor.execute("TRUNCATE bench_bare_entries")


def _bare_post(t: Any) -> None:
    """The bare limit of posting one transfer: its two entries, one INSERT in its own transaction."""
    from django.db import connection

    with connection.cursor() as cursor:  # autocommit: one transaction per statement = per transfer
        cursor.execute(
            "INSERT INTO bench_bare_entries (account_id, transfer_id, amount_fen, posted_at) VALUES (%s, %s, %s, now()), (%s, %s, %s, now())",
            [t.from_account_id, t.pk, -t.amount_fen, t.to_account_id, t.pk, t.amount_fen],
        )


POSTING_GOAL = ">= 1/4 of the bare INSERT rate (issue 22)"


def _bench_people_and_accounts() -> tuple[Any, Any, list[Any]]:
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    from apps.benefits.models import PoolingRegion, Province
    from apps.core.roles import Role
    from apps.core.services import staff_create
    from apps.pooling import services
    from apps.pooling.models import FundAccount

    province, _ = Province.objects.get_or_create(code=BENCH_PROVINCE, defaults={"name": "bench", "name_en": "bench"})
    for i in range(ACCOUNTS - 3):  # plus the province's provincial, external and advance accounts
        PoolingRegion.objects.get_or_create(code=f"B{i:05d}", defaults={"province": province, "name": f"bench region {i}"})
    services.accounts_ensure()
    User = get_user_model()

    def user(name: str, role: str) -> Any:
        return User.objects.filter(username=name).first() or staff_create(
            username=name, role=role, province_code="650000", password="x-bench-x"
        )

    maker, checker = user("bench-ledger-maker", Role.FINANCE_MAKER), user("bench-ledger-checker", Role.FINANCE_CHECKER)
    # Province-scoped roles need a province; the bench province is not a valid GB/T code, so
    # the bench users act as superusers (the permission checks still run).
    User.objects.filter(pk__in=[maker.pk, checker.pk]).update(is_superuser=True)
    maker.refresh_from_db()
    checker.refresh_from_db()
    # This run's regions only: a database benchmarked before advance accounts existed has one more.
    codes = [f"B{i:05d}" for i in range(ACCOUNTS - 3)]
    accounts = list(
        FundAccount.objects.select_related("province")
        .filter(province=province)
        .filter(Q(region__isnull=True) | Q(region__code__in=codes))
        .order_by("pk")
    )
    assert len(accounts) == ACCOUNTS, len(accounts)
    return maker, checker, accounts


def _posting(transfers_count: int) -> list[dict[str, Any]]:

    from apps.pooling import selectors, services
    from apps.pooling.models import FundAccount

    maker, checker, accounts = _bench_people_and_accounts()
    external = next(a for a in accounts if a.kind == FundAccount.Kind.EXTERNAL)
    internal = [a for a in accounts if a.kind != FundAccount.Kind.EXTERNAL]
    run_id = f"{time.time_ns()}"
    # Every internal account holds enough that no bench transfer can overdraw it.
    for index, account in enumerate(internal):
        income = services.transfer_propose(
            from_account=external, to_account=account, amount_fen=10**12, proposer=maker, idempotency_key=f"bench-fund-{run_id}-{index}"
        )
        services.transfer_approve(transfer=income, approver=checker)
    rng = random.Random(8)
    proposed = []
    for index in range(transfers_count):
        source, target = rng.sample(accounts, 2)
        proposed.append(
            services.transfer_propose(
                from_account=source,
                to_account=target,
                amount_fen=rng.randint(1, 10_000_00),
                proposer=maker,
                idempotency_key=f"bench-{run_id}-{index}",
            )
        )

    ours = _in_processes(proposed, lambda t: services.transfer_approve(transfer=t, approver=checker))
    assert selectors.ledger_balance_mismatches() == [], "balances disagree with entries after the benchmark"
    assert selectors.unbalanced_transfers() == [], "a posted transfer does not balance after the benchmark"

    _bare_entries_table()
    baseline = _in_processes(proposed, _bare_post)
    ours_rate, base_rate = transfers_count / ours, transfers_count / baseline
    return [
        {
            "figure": f"ledger: post {transfers_count} transfers, {WORKERS} processes, {ACCOUNTS} accounts",
            "ours": f"{ours_rate:,.0f} transfers/s",
            "baseline": f"{base_rate:,.0f} transfers/s (bare INSERT)",
            "ratio": f"{ours_rate / base_rate:.2f} of the bare rate ({'met' if ours_rate * 4 >= base_rate else 'not met'})",
            "goal": POSTING_GOAL,
        }
    ]


def _seed_entries(account_entries: int) -> Any:
    """One account with ``account_entries`` entries, written set-based. Triggers are switched off
    for the seeding session only (session_replication_role); the rows written satisfy them."""
    from django.db import connection, transaction

    from apps.pooling import selectors
    from apps.pooling.models import FundAccount, LedgerEntry

    maker, checker, accounts = _bench_people_and_accounts()
    external = next(a for a in accounts if a.kind == FundAccount.Kind.EXTERNAL)
    heavy = next(a for a in accounts if a.kind == FundAccount.Kind.PROVINCIAL)
    have = LedgerEntry.objects.filter(account=heavy).count()
    missing = account_entries - have
    if missing <= 0:
        return heavy
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "INSERT INTO pooling_transfer (from_account_id, to_account_id, amount_fen, memo, state, idempotency_key, request_fingerprint, "
            "proposed_by_id, approved_by_id, reason, created_at, approved_at, posted_at) "
            "SELECT %s, %s, 1 + (g %% 1000), 'bench', 'posted', 'bench-seed-' || %s || '-' || g, 'x', %s, %s, '', now(), now(), now() "
            "FROM generate_series(1, %s) g",
            [external.pk, heavy.pk, time.time_ns(), maker.pk, checker.pk, missing],
        )
        cursor.execute(
            "INSERT INTO pooling_ledgerentry (account_id, transfer_id, amount_fen, posted_at) "
            "SELECT s.account_id, t.id, s.sign * t.amount_fen, t.posted_at FROM pooling_transfer t "
            "CROSS JOIN (VALUES (%s::bigint, -1), (%s::bigint, 1)) AS s(account_id, sign) "
            "WHERE t.memo = 'bench' AND NOT EXISTS (SELECT 1 FROM pooling_ledgerentry e WHERE e.transfer_id = t.id)",
            [external.pk, heavy.pk],
        )
        cursor.execute(
            "UPDATE pooling_fundaccount a SET balance_fen = COALESCE((SELECT SUM(amount_fen) FROM pooling_ledgerentry e WHERE e.account_id = a.id), 0) "
            "WHERE a.id IN (%s, %s)",
            [external.pk, heavy.pk],
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE pooling_ledgerentry")
    assert selectors.ledger_balance_mismatches() == []
    return heavy


def _median(fn: Callable[[], Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _balance(account_entries: int) -> list[dict[str, Any]]:
    from django.db import connection

    from apps.pooling import selectors
    from apps.pooling.models import FundAccount

    heavy = _seed_entries(account_entries)

    def raw_sum() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT SUM(amount_fen) FROM pooling_ledgerentry WHERE account_id = %s", [heavy.pk])
            return int(cursor.fetchone()[0])

    maintained = _median(lambda: FundAccount.objects.only("balance_fen").get(pk=heavy.pk).balance_fen, 50)
    summed = _median(lambda: selectors.account_balance_from_entries(account=heavy), 5)
    baseline = _median(raw_sum, 5)
    label = f"{account_entries // 1000}k" if account_entries < 1_000_000 else f"{account_entries // 1_000_000}M"
    return [
        {
            "figure": f"ledger: balance of an account with {label} entries (maintained column, ORM)",
            "ours": f"{maintained * 1000:.2f} ms",
            "baseline": f"{baseline * 1000:.1f} ms (raw SUM)",
            "ratio": f"{maintained / baseline:.4f}x",
            "goal": "< 5 ms",
        },
        {
            "figure": f"ledger: balance of an account with {label} entries (sum of entries, selector)",
            "ours": f"{summed * 1000:.1f} ms",
            "baseline": f"{baseline * 1000:.1f} ms (raw SUM)",
            "ratio": f"{summed / baseline:.2f}x",
            "goal": "≈ 1x raw SUM",
        },
    ]


def _risk_adjustment() -> list[dict[str, Any]]:
    import io
    from decimal import Decimal

    from django.db import connection

    from apps.benefits.models import PoolingRegion, Province
    from apps.pooling import selectors, services
    from apps.pooling.models import AdjustmentRule, FundAccount, Transfer

    maker, checker, _ = _bench_people_and_accounts()  # superusers holding the finance roles
    services.accounts_ensure()
    provinces = list(
        Province.objects.filter(pooling_model=Province.PoolingModel.ADJUSTMENT_FUND, regions__isnull=False)
        .exclude(code=BENCH_PROVINCE)
        .distinct()
        .order_by("code")
    )
    regions = list(PoolingRegion.objects.filter(province__in=provinces).select_related("province").order_by("code"))
    # A month no earlier run used, so every run proposes afresh (figures and runs are kept).
    period = f"{3000 + time.time_ns() // 10**9 % 6000:04d}-01"
    for province in [*provinces, None]:
        AdjustmentRule.objects.get_or_create(
            province=province,
            effective_from="2000-01-01",
            defaults={"contribution_share": Decimal("0.02") if province is None else Decimal("0.05")},
        )
    rng = random.Random(19)
    lines = ["region_code,period,fund_income_fen,fund_expenditure_fen,active_insured,retirees,cross_regional_fen"]
    for region in regions:
        income = rng.randint(50_000_000_00, 5_000_000_000_00)  # ¥50M to ¥5bn a month
        spending = int(income * rng.uniform(0.7, 1.3))
        active = rng.randint(200_000, 8_000_000)
        lines.append(f"{region.code},{period},{income},{spending},{active},{int(active / rng.uniform(0.8, 4.0))},{spending // 10}")
    body = ("\n".join(lines) + "\n").encode()

    start = time.perf_counter()
    imported = services.figures_import(file=io.BytesIO(body), user=maker, filename="bench.csv")
    import_seconds = time.perf_counter() - start

    # Enough money everywhere that every approval posts (fund income, outside the timings).
    accounts = FundAccount.objects.select_related("province")
    funded = list(accounts.filter(kind__in=["regional", "provincial"], province__in=provinces, closed_at__isnull=True))
    externals = {a.province_id: a for a in accounts.filter(kind="external", province__in=provinces)}
    incomes = [
        services.transfer_propose(
            from_account=externals[a.province_id],
            to_account=a,
            amount_fen=10**14,
            proposer=maker,
            idempotency_key=f"bench-ra-{period}-{a.pk}",
        )
        for a in funded
    ]
    _in_threads(incomes, lambda t: services.transfer_approve(transfer=t, approver=checker))

    start = time.perf_counter()
    runs = [services.adjustment_run(period=period, province=province)[0] for province in provinces]
    provincial_seconds = time.perf_counter() - start
    start = time.perf_counter()
    national = services.adjustment_run(period=period)[0]
    national_seconds = time.perf_counter() - start
    ids = [pk for run in [*runs, national] for pk in run.transfer_ids]
    proposed = {t.pk: t for t in Transfer.objects.select_related("from_account", "to_account").filter(pk__in=ids)}

    def phase(source: str, target: str) -> list[Any]:
        return [t for t in proposed.values() if (t.from_account.kind, t.to_account.kind) == (source, target)]

    phases = [
        phase("regional", "provincial"),
        phase("provincial", "regional") + phase("provincial", "national"),
        phase("national", "provincial"),
    ]
    post_seconds = sum(_in_processes(p, lambda t: services.transfer_approve(transfer=t, approver=checker)) for p in phases)
    assert sum(len(p) for p in phases) == len(proposed), "a leg of the run was not posted"
    assert selectors.ledger_balance_mismatches() == [] and selectors.unbalanced_transfers() == [], "ledger unsound after posting"

    with connection.cursor() as cursor:  # baseline: the same number of transfer rows, one bare INSERT
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_bare_transfers (id bigserial PRIMARY KEY, a bigint, b bigint, amount_fen bigint, memo text)"
        )
        start = time.perf_counter()
        cursor.execute(
            "INSERT INTO bench_bare_transfers (a, b, amount_fen, memo) SELECT g, g + 1, g * 100, 'bench' FROM generate_series(1, %s) g",
            [len(ids)],
        )
        bare_insert = time.perf_counter() - start
        cursor.execute("TRUNCATE bench_bare_transfers")

    _bare_entries_table()
    bare_posting = sum(_in_processes(p, _bare_post) for p in phases)
    units = len(regions)
    run_seconds = provincial_seconds + national_seconds
    return [
        {
            "figure": f"risk adjustment: import the month's figures of every city ({imported['rows']} regions, one CSV)",
            "ours": f"{import_seconds:.2f} s",
            "baseline": "—",
            "ratio": "—",
            "goal": "< 10 s",
        },
        {
            "figure": f"risk adjustment: {len(runs)} provincial runs over {units} cities + the national run ({len(provinces)} provinces)",
            "ours": f"{run_seconds:.2f} s ({len(ids)} transfers proposed; national {national_seconds:.2f} s)",
            "baseline": f"{bare_insert * 1000:.1f} ms (bare INSERT of {len(ids)} rows)",
            "ratio": f"{run_seconds / bare_insert:.0f}x slower",
            "goal": "< 60 s (monthly, beat)",
        },
        {
            "figure": f"risk adjustment: approve and post all {len(ids)} transfers, {WORKERS} processes, 3 dependent phases",
            "ours": f"{len(ids) / post_seconds:,.0f} transfers/s ({post_seconds:.2f} s)",
            "baseline": f"{len(ids) / bare_posting:,.0f} transfers/s (bare INSERT, same phases)",
            "ratio": f"{bare_posting / post_seconds:.2f} of the bare rate ({'met' if post_seconds <= 4 * bare_posting else 'not met'})",
            "goal": POSTING_GOAL,
        },
    ]


def run(quick: bool) -> list[dict[str, Any]]:
    os.environ.setdefault("DATABASE_URL", "postgres://root@127.0.0.1:5432/portal_h8_bench")
    setup_django()
    return _posting(400 if quick else 2000) + _balance(100_000 if quick else 1_000_000) + _risk_adjustment()


if __name__ == "__main__":
    if "--adjustment" in sys.argv:
        os.environ.setdefault("DATABASE_URL", "postgres://root@127.0.0.1:5432/portal_h8_bench")
        setup_django()
        print_table(_risk_adjustment())
    else:
        print_table(run(quick="--quick" in sys.argv))
