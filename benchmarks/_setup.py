"""Shared set-up for benchmark scripts: Django on a dedicated PostgreSQL database, migrated."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE_URL = "postgres://root@127.0.0.1:5432/portal_bench"


def setup_django() -> None:
    """Point Django at the benchmark database (created and migrated on first use)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DATABASE_URL", BENCH_DATABASE_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django
    import psycopg

    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect("postgresql://root@127.0.0.1:5432/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


BROKER_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
KEY_PREFIX = "bench-tasks:"


@contextmanager
def tasks_queued_as_in_production() -> Iterator[None]:
    """Tasks sent in this block go to the Redis broker (no worker consumes them) instead of
    running eagerly in the caller, as a web process or a worker sends them after a commit; the
    messages are deleted afterwards. A benchmark that counts a task's work runs it by itself."""
    import redis

    from config.celery import app

    saved = (app.conf.task_always_eager, app.conf.broker_url, app.conf.broker_transport_options)
    app.conf.task_always_eager = False
    app.conf.broker_url = BROKER_URL
    app.conf.broker_transport_options = {**(saved[2] or {}), "global_keyprefix": KEY_PREFIX}
    try:
        # A process that sends tasks has its broker connection open already.
        with app.producer_or_acquire() as producer:
            producer.connection.ensure_connection()
        yield
    finally:
        app.conf.task_always_eager, app.conf.broker_url, app.conf.broker_transport_options = saved
        client = redis.Redis.from_url(BROKER_URL)
        sent = list(client.scan_iter(match=f"{KEY_PREFIX}*", count=1000))
        if sent:
            client.delete(*sent)


def drop_item_partitions(cursor: Any) -> None:
    """Drop every release's item partition (after the releases were removed by TRUNCATE or with
    their triggers disabled, which would have dropped them), item history partition and stored
    diff partition; a new release makes its own."""
    cursor.execute(
        "SELECT format('DROP TABLE %I', c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent IN "
        "('catalog_catalogitem'::regclass, 'catalog_historicalcatalogitem'::regclass, 'catalog_releasechange'::regclass)"
    )
    for (drop,) in cursor.fetchall():
        cursor.execute(drop)


@contextmanager
def timer() -> Iterator[dict[str, float]]:
    box: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - start


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def row(figure: str, ours: float, baseline: float, goal: str, unit: str = "s") -> dict[str, Any]:
    return {
        "figure": figure,
        "ours": f"{ours:.3f} {unit}",
        "baseline": f"{baseline:.3f} {unit}",
        "ratio": f"{ours / baseline:.2f}x" if baseline else "n/a",
        "goal": goal,
    }


def judged(figure: str, ours: float, bare: float, *, limit: float, goal: str, unit: str = "s", label: str = "bare limit") -> dict[str, Any]:
    """A figure against the bare limit of the same work, with the goal an issue set for it
    (``limit``: the highest ratio ours / bare that meets it) and whether it is met."""
    ratio = ours / bare if bare else float("inf")
    return {
        "figure": figure,
        "ours": f"{ours:.3f} {unit}",
        "baseline": f"{bare:.3f} {unit} ({label})",
        "ratio": f"{ratio:.2f}x ({'met' if ratio <= limit else 'not met'})",
        "goal": goal,
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    headers = ["figure", "ours", "baseline", "ratio", "goal"]
    widths = [max(len(h), *(len(str(r.get(h, ""))) for r in rows)) for h in headers]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(r.get(h, "")).ljust(w) for h, w in zip(headers, widths, strict=True)))
