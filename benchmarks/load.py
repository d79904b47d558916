"""Latency under load (issues 11 and 22): 50 concurrent hospital clients against web as
production runs it (config/gunicorn.py: gunicorn threads, pooled connections, production
settings; benchmarks/_topology.py). Figures: the item look-up p99 against the bare limit, the
trivial authenticated endpoint (GET /api/v1/hospital/) in the same load (goal ≤ 1.2×); p99 of
the catalog reads while a publish and an import run against the same load idle (goal ≤ 1.3×),
with the trivial endpoint's p99 printed beside both; errors (goal 0).

Clients cycle through the first items page, two filtered items pages, the diff of a 1,000-item
release, a look-up by code and the trivial endpoint. The writes: a 20k-item (5k with --quick)
release is published (diff, exports, notices) and a canonical CSV of as many rows is imported
into another draft, each in its own thread with its own database connection, started as the
load starts.

Run: ``.venv/bin/python benchmarks/load.py [--quick]``. DATABASE_URL defaults to portal_h11a_bench.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DATABASE_URL", "postgres://root@127.0.0.1:5432/portal_h11a_bench")
from _setup import print_table, row, setup_django

CLIENTS = 50
FAILURES: list[str] = []  # writes (publish, import) that failed during the load


def _writes(size: int) -> list[threading.Thread]:
    """Threads that publish one release and import one file (fresh labels every run)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from publish import _copy_items, _csv_rows

    from apps.catalog import services
    from apps.catalog.importers.services import release_import
    from apps.catalog.models import CatalogRelease

    User = get_user_model()
    admin, reviewer = User.objects.get(username="bench-admin"), User.objects.get(username="bench-reviewer")
    tag = uuid.uuid4().hex[:6]
    last = CatalogRelease.objects.order_by("-effective_from").values_list("effective_from", flat=True).first() or dt.date(2000, 1, 1)
    to_publish = services.release_create_draft(label=f"load-{tag}-p", effective_from=last + dt.timedelta(days=1), user=admin, based_on=None)
    _copy_items(to_publish.pk, _csv_rows(size))
    services.release_submit(release=to_publish, user=admin, confirm_removals=True)
    services.release_approve(release=to_publish, user=reviewer)
    to_import = services.release_create_draft(label=f"load-{tag}-i", effective_from=last + dt.timedelta(days=2), user=admin, based_on=None)
    from apps.catalog.demo import canonical_csv

    body = canonical_csv(size, seed=1111)

    def publish() -> None:
        try:
            services.release_publish(release=to_publish, user=admin)
        except Exception as exc:
            FAILURES.append(f"publish: {exc!r}")
        finally:
            connection.close()

    def import_() -> None:
        try:
            release_import(release=to_import, file=io.BytesIO(body), fmt="canonical-csv", user=admin)
        except Exception as exc:
            FAILURES.append(f"import: {exc!r}")
        finally:
            connection.close()

    return [threading.Thread(target=publish), threading.Thread(target=import_)]


def _load(port: int, key: str, paths: list[str]) -> tuple[dict[str, list[float]], int]:
    """Latencies (ms, sorted) per kind of path, and the error count, for GETs of ``paths`` from
    CLIENTS threads: every kind under the same load."""
    headers = {"Authorization": f"Api-Key {key}", "Host": "127.0.0.1"}
    errors: list[str] = []

    def one(path: str) -> tuple[str, float]:
        start = time.perf_counter()
        try:
            conn = HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status != 200:
                errors.append(f"{path}: {response.status}")
        except OSError as exc:
            errors.append(f"{path}: {exc}")
        return _kind(path), (time.perf_counter() - start) * 1000

    by_kind: dict[str, list[float]] = {}
    with ThreadPoolExecutor(CLIENTS) as pool:
        for kind, ms in pool.map(one, paths):
            by_kind.setdefault(kind, []).append(ms)
            if kind != "trivial":
                by_kind.setdefault("reads", []).append(ms)
    for latencies in by_kind.values():
        latencies.sort()
    if errors:
        print("errors:", errors[:5], file=sys.stderr)
    return by_kind, len(errors)


def _kind(path: str) -> str:
    if path == TRIVIAL:
        return "trivial"
    return "lookup" if path.startswith("/api/v1/catalog/items/") else "pages"


def _p99(latencies: list[float]) -> float:
    return latencies[max(int(len(latencies) * 0.99) - 1, 0)]


TRIVIAL = "/api/v1/hospital/"  # the bare limit: an authenticated JSON answer that reads nothing else


def run(quick: bool = False) -> list[dict[str, Any]]:
    setup_django()
    import random

    from _topology import free_port, serve_web
    from api import _hospital_key, _release

    from apps.catalog.models import CatalogItem

    release = _release(20_000 if quick else 100_000)
    small = _release(1_000)  # its diff (1,000 items added) is the diff clients pull
    key = _hospital_key()
    requests = 1_200 if quick else 3_000
    base = f"/api/v1/catalog/releases/{release.label}"
    codes = list(CatalogItem.objects.filter(release=release).values_list("code", flat=True)[:10_000])
    rng = random.Random(11)
    cycle = (
        f"{base}/items/",
        f"{base}/items/?kind=drug",
        f"{base}/items/?category=01",
        f"/api/v1/catalog/releases/{small.label}/diff/",
        "lookup",
        TRIVIAL,
    )
    paths = [
        f"/api/v1/catalog/items/{rng.choice(codes)}/?on={release.effective_from}"
        if cycle[i % len(cycle)] == "lookup"
        else cycle[i % len(cycle)]
        for i in range(requests)
    ]
    port = free_port()
    # The bench client is one hospital: its key's rate limit is not what is measured here.
    server = serve_web(port, API_KEY_THROTTLE_RATE="1000000/min")
    try:
        _load(port, key, paths[:300])  # warm every process and thread
        idle, idle_errors = _load(port, key, paths)
        writers = _writes(5_000 if quick else 20_000)
        started = time.perf_counter()
        for t in writers:
            t.start()
        busy, busy_errors = _load(port, key, paths)
        loaded = time.perf_counter() - started
        for t in writers:
            t.join()
        writes = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(15)
    trivial_idle, trivial_busy = _p99(idle["trivial"]), _p99(busy["trivial"])
    return [
        row(
            f"{CLIENTS} clients, item look-up p99 / trivial endpoint p99 at the same load (idle)",
            _p99(idle["lookup"]),
            trivial_idle,
            "≤ 1.2×",
            "ms",
        ),
        row(
            f"{CLIENTS} clients, items+diff+look-up p99 during publish+import / idle"
            f" (bare limit, trivial endpoint p99: {trivial_busy:.1f} ms during, {trivial_idle:.1f} ms idle)",
            _p99(busy["reads"]),
            _p99(idle["reads"]),
            "≤ 1.3×",
            "ms",
        ),
        row(
            f"{CLIENTS} clients, items+diff+look-up p50 during publish+import / idle",
            statistics.median(busy["reads"]),
            statistics.median(idle["reads"]),
            "report",
            "ms",
        ),
        {
            "figure": f"errors in {len(paths)} requests during publish+import (load {loaded:.1f}s, writes {writes:.1f}s) / idle",
            "ours": str(busy_errors),
            "baseline": str(idle_errors),
            "ratio": "n/a",
            "goal": "0",
        },
        {
            "figure": "failed writes (publish, import) during the load",
            "ours": str(len(FAILURES)),
            "baseline": "-",
            "ratio": "n/a",
            "goal": "0",
        },
    ]


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))
