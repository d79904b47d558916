"""Load (issue 11): 50 concurrent hospital clients pull item pages and diffs from gunicorn on
127.0.0.1 while a publish and an import run; error count (goal 0) and p50/p99 latency, against
the same load with nothing else running (baseline, same process, same server).

Clients cycle through the first items page, two filtered items pages and the diff of a\n1,000-item release. The writes: a 20k-item (5k with --quick) release is published (diff, exports, notices) and a
canonical CSV of as many rows is imported into another draft, each in its own thread with its
own database connection, started as the load starts.

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


def _load(port: int, key: str, paths: list[str]) -> tuple[float, float, int, int]:
    """p50, p99 (ms), error count and request count for GETs of ``paths`` from CLIENTS threads."""
    headers = {"Authorization": f"Api-Key {key}", "Host": "127.0.0.1"}
    errors: list[str] = []

    def one(path: str) -> float:
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
        return (time.perf_counter() - start) * 1000

    with ThreadPoolExecutor(CLIENTS) as pool:
        latencies = sorted(pool.map(one, paths))
    return statistics.median(latencies), latencies[max(int(len(latencies) * 0.99) - 1, 0)], len(errors), len(paths)


def run(quick: bool = False) -> list[dict[str, Any]]:
    setup_django()
    from api import _free_port, _hospital_key, _release, _serve

    release = _release(20_000 if quick else 100_000)
    small = _release(1_000)  # its diff (1,000 items added) is the diff clients pull
    key = _hospital_key()
    requests = 600 if quick else 2_000
    base = f"/api/v1/catalog/releases/{release.label}"
    cycle = (f"{base}/items/", f"{base}/items/?kind=drug", f"{base}/items/?category=01", f"/api/v1/catalog/releases/{small.label}/diff/")
    paths = [cycle[i % len(cycle)] for i in range(requests)]
    port = _free_port()
    server = _serve(port)
    try:
        _load(port, key, paths[:200])  # warm both workers
        b50, b99, berr, _ = _load(port, key, paths)
        writers = _writes(5_000 if quick else 20_000)
        started = time.perf_counter()
        for t in writers:
            t.start()
        p50, p99, err, n = _load(port, key, paths)
        loaded = time.perf_counter() - started
        for t in writers:
            t.join()
        writes = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(10)
    return [
        row(f"{CLIENTS} clients, items+diff p50 during publish+import / idle", p50, b50, "report", "ms"),
        row(f"{CLIENTS} clients, items+diff p99 during publish+import / idle", p99, b99, "report", "ms"),
        {
            "figure": f"errors in {n} requests during publish+import (load {loaded:.1f}s, writes {writes:.1f}s) / idle",
            "ours": str(err),
            "baseline": str(berr),
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
