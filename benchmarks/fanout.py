"""Fan-out of one publish's notices to N hospitals (outbox insert + signed, batched delivery to a
local receiver) vs a raw asyncio+aiohttp blast of the same prebuilt requests; broker messages used.

    .venv/bin/python benchmarks/fanout.py [--quick]
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATABASE_URL", "postgres://root@127.0.0.1:5432/portal_bench_fanout")

from benchmarks._setup import print_table, row, setup_django


def _serve(port: int) -> None:
    from aiohttp import web

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", hook)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("receiver did not start")


def _prepare(n: int, url: str) -> Any:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from apps.benefits.models import Province
    from apps.catalog.models import CatalogRelease
    from apps.hospitals.models import Hospital, WebhookEndpoint
    from apps.hospitals.notices import new_webhook_secret

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE hospitals_hospital, hospitals_historicalwebhookendpoint, hospitals_historicalnoticedelivery CASCADE")
    province = Province.objects.get(code="310000")
    hospitals = Hospital.objects.bulk_create(
        [Hospital(code=f"H31{i:09d}", name=f"bench {i}", province=province) for i in range(1, n + 1)], batch_size=5000
    )
    secret = new_webhook_secret()
    WebhookEndpoint.objects.bulk_create([WebhookEndpoint(hospital=h, url=url, secret=secret) for h in hospitals], batch_size=5000)
    user = get_user_model().objects.get_or_create(username="bench-fanout")[0]
    label = f"fanout-{time.time_ns()}"
    return CatalogRelease.objects.create(label=label, effective_from=dt.date(2030, 1, 1), created_by=user)


async def _blast(requests: list[Any], concurrency: int) -> int:
    import aiohttp

    ok = 0
    semaphore = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def one(req: Any) -> None:
            nonlocal ok
            async with semaphore, session.post(req.url, data=req.body, headers=req.headers) as response:
                await response.read()
                ok += response.status == 200

        await asyncio.gather(*(one(r) for r in requests))
    return ok


def run(quick: bool) -> list[dict[str, Any]]:
    setup_django()
    from celery.signals import task_prerun
    from django.db import transaction
    from django.utils import timezone

    from apps.hospitals import conf, delivery, notices
    from apps.hospitals.models import NoticeDelivery

    n = 2000 if quick else 10_000
    repeats = 1 if quick else 3
    port = _free_port()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(port,), daemon=True)
    server.start()
    runs: list[tuple[float, float, float, int]] = []  # (ours, baseline, outbox, messages)
    try:
        _wait_port(port)
        # Paired runs, ours then the baseline right after it: the machine's other load changes on
        # a scale of seconds, so the run with the median ratio is reported.
        for _ in range(repeats):
            release = _prepare(n, f"http://127.0.0.1:{port}/hook")
            messages = 0

            def count(sender: Any = None, **kwargs: Any) -> None:
                nonlocal messages
                messages += sender.name == "hospitals.deliver_batch"

            task_prerun.connect(count, weak=False)
            start = time.perf_counter()
            with transaction.atomic():  # as in publish: outbox in the transaction, delivery on commit
                notices.notices_create_for_release(release=release)
                outbox = time.perf_counter() - start
            ours = time.perf_counter() - start
            task_prerun.disconnect(count)
            delivered = NoticeDelivery.objects.filter(notice__release=release, state="delivered").count()
            assert delivered == n, f"only {delivered} of {n} delivered"

            # Baseline: the same signed requests, prebuilt, blasted with asyncio + aiohttp.
            ids = list(NoticeDelivery.objects.filter(notice__release=release).values_list("id", flat=True))
            requests = delivery.build_requests(ids, now=timezone.now())
            start = time.perf_counter()
            ok = asyncio.run(_blast(requests, conf.http_concurrency()))
            baseline = time.perf_counter() - start
            assert ok == n
            runs.append((ours, baseline, outbox, messages))
    finally:
        server.terminate()
        server.join(5)
    runs.sort(key=lambda r: r[0] / r[1])
    ours, baseline, outbox, messages = runs[len(runs) // 2]
    if len(runs) > 1:
        print("fan-out runs (ours / baseline):", ", ".join(f"{o:.2f}/{b:.2f} s" for o, b, _, _ in runs), file=sys.stderr)
    return [
        row(
            f"notice fan-out to {n} hospitals (outbox+signed delivery) / raw aiohttp blast, median of {repeats}",
            ours,
            baseline,
            "≤ 1.5×",
        ),
        {
            "figure": f"outbox insert, {n} hospitals (in the publish transaction)",
            "ours": f"{outbox:.3f} s",
            "baseline": "-",
            "ratio": "-",
            "goal": "seconds for 50k",
        },
        {
            "figure": f"broker messages for {n} deliveries",
            "ours": str(messages),
            "baseline": f"{n / 200:.0f} (N/200)",
            "ratio": f"{messages / (n / 200):.2f}",
            "goal": "≤ N/200",
        },
    ]


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))
