"""500 concurrent hospital clients against web as production runs it (config/gunicorn.py:
threads and psycopg's pool, benchmarks/_topology.py): the most server connections gunicorn held
at any moment (pg_stat_activity, sampled every 10 ms; goal ≤ 50) and errors (goal 0); latency
beside the bare limit, the trivial authenticated endpoint (GET /api/v1/hospital/) under the
same 500 clients.

Each client is one hospital with its own API key and its own keep-alive connection, asking in
turn for an items page, a look-up by code and a manifest.

    .venv/bin/python benchmarks/pool.py [--quick]
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DATABASE_URL", "postgres://root@127.0.0.1:5432/portal_bench_infra")
from _setup import print_table, row, setup_django
from _topology import free_port, serve_web, server_connections

CLIENTS = 500
GOAL_CONNECTIONS = 50


def _hospital_keys(n: int) -> list[str]:
    from apps.hospitals import services
    from apps.hospitals.models import Hospital

    keys = []
    for i in range(n):
        code = f"H310102{i:05d}"
        hospital = Hospital.objects.filter(code=code).first() or services.hospital_register(
            code=code, name=f"bench {i}", province_code="310000"
        )
        keys.append(services.api_key_issue(hospital=hospital, name="pool-bench")[1])
    return keys


async def _clients(port: int, keys: list[str], paths: list[list[str]]) -> tuple[list[float], list[str]]:
    import aiohttp

    latencies: list[float] = []
    errors: list[str] = []
    start_together = asyncio.Event()

    async def client(key: str, mine: list[str]) -> None:
        headers = {"Authorization": f"Api-Key {key}"}
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", timeout=aiohttp.ClientTimeout(total=120)) as session:
            await start_together.wait()
            for path in mine:
                began = time.perf_counter()
                try:
                    async with session.get(path, headers=headers) as response:
                        await response.read()
                        if response.status != 200:
                            errors.append(f"{path}: {response.status}")
                except (aiohttp.ClientError, TimeoutError) as exc:
                    errors.append(f"{path}: {exc!r}")
                latencies.append((time.perf_counter() - began) * 1000)

    tasks = [asyncio.create_task(client(k, p)) for k, p in zip(keys, paths, strict=True)]
    await asyncio.sleep(0.5)
    start_together.set()
    await asyncio.gather(*tasks)
    return sorted(latencies), errors


def _p99(latencies: list[float]) -> float:
    return latencies[max(int(len(latencies) * 0.99) - 1, 0)]


def run(quick: bool = False) -> list[dict[str, Any]]:
    setup_django()
    import psycopg
    from api import _release

    from apps.catalog.models import CatalogItem

    release = _release(20_000)
    codes = list(CatalogItem.objects.filter(release=release).values_list("code", flat=True)[:5000])
    keys = _hospital_keys(CLIENTS)
    per_client = 6 if quick else 20
    rng = random.Random(7)
    base = f"/api/v1/catalog/releases/{release.label}"
    cycle = [f"{base}/items/?page_size=20", "/api/v1/catalog/items/{code}/", f"{base}/"]
    mixed = [[cycle[i % 3].format(code=rng.choice(codes)) for i in range(per_client)] for _ in keys]
    trivial = [["/api/v1/hospital/"] * per_client for _ in keys]

    port = free_port()
    server = serve_web(port)
    most = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal most
        with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn, conn.cursor() as cursor:
            while not stop.is_set():
                most = max(most, server_connections(cursor))
                stop.wait(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        asyncio.run(_clients(port, keys[:50], [m[:3] for m in mixed[:50]]))  # warm both processes
        bare, bare_errors = asyncio.run(_clients(port, keys, trivial))
        ours, errors = asyncio.run(_clients(port, keys, mixed))
    finally:
        stop.set()
        sampler.join()
        server.terminate()
        server.wait(15)
    if errors:
        print("errors:", errors[:5], file=sys.stderr)
    n = len(ours)
    return [
        {
            "figure": f"{CLIENTS} concurrent hospital clients ({n} requests): most server connections held by web",
            "ours": str(most),
            "baseline": f"{CLIENTS} clients",
            "ratio": "n/a",
            "goal": f"≤ {GOAL_CONNECTIONS}",
        },
        {
            "figure": f"errors in {n} requests from {CLIENTS} clients / trivial endpoint",
            "ours": str(len(errors)),
            "baseline": str(len(bare_errors)),
            "ratio": "n/a",
            "goal": "0",
        },
        row(
            f"{CLIENTS} clients: items page, look-up, manifest p50 / trivial endpoint p50",
            statistics.median(ours),
            statistics.median(bare),
            "report",
            "ms",
        ),
        row(f"{CLIENTS} clients: items page, look-up, manifest p99 / trivial endpoint p99", _p99(ours), _p99(bare), "report", "ms"),
    ]


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))
