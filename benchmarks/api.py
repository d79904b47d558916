"""Hospital API figures against baselines run in the same process.

- conditional GET of a release manifest answering 304 / a trivial authenticated JSON endpoint
  (GET /api/v1/hospital/), in-process, goal <= 1.2x
- item look-up p50 / p99 under a loopback load (gunicorn on 127.0.0.1, a bounded Python client,
  10,000 requests; 2,000 with --quick) on a 500k-item release (50k with --quick), against the
  trivial endpoint under the same load
- queries per items page: page_size=1000 vs page_size=10 (goal 1.0x: constant per page)
- item search (?q=, page_size=20) p50 / p99 under the same loopback load, on the same release, with
  a mix of code prefixes, exact codes, Chinese substrings of names and manufacturers and pinyin
  initials (goal p99 <= 50 ms), against the trivial endpoint under the same load, with the CPU
  per request the gunicorn workers and PostgreSQL spent on each
- bulk validation of 10,000 codes (the one statement of POST /api/v1/catalog/validate/, and the
  whole endpoint in-process) against a bare SQL join of the same codes to the release's items
  (goal <= 2x for the statement)
"""

from __future__ import annotations

import datetime as dt
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, print_table, row, setup_django
from _topology import wait_listening

CLIENT_THREADS = 8
ROUND = 50  # requests per timed round of the in-process comparison


def _release(count: int) -> Any:
    """A published release of ``count`` items loaded with COPY (publish.py's loader); kept
    between runs (published releases are immutable, and notices may reference them)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from publish import _copy_items, _csv_rows

    from apps.catalog import services
    from apps.catalog.models import CatalogRelease
    from apps.core.roles import Role
    from apps.core.services import staff_create

    label = f"bench-api-{count // 1000}k"
    existing = CatalogRelease.objects.filter(label=label, status="published").first()
    if existing is not None:
        return existing
    CatalogRelease.objects.filter(label=label).delete()  # a draft left by an interrupted run
    User = get_user_model()
    admin = User.objects.filter(username="bench-admin").first() or staff_create(username="bench-admin", role=Role.CATALOG_ADMIN)
    reviewer = User.objects.filter(username="bench-reviewer").first() or staff_create(username="bench-reviewer", role=Role.CATALOG_REVIEWER)
    # An effective date of its own, far in the past, so it never collides with other scripts' releases.
    effective = dt.date(1950, 1, 1) + dt.timedelta(days=count // 1000)
    release = services.release_create_draft(label=label, effective_from=effective, user=admin, based_on=None)
    _copy_items(release.pk, _csv_rows(count))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_catalogitem")
    services.release_submit(release=release, user=admin, confirm_removals=True)
    services.release_approve(release=release, user=reviewer)
    return services.release_publish(release=release, user=admin)


def _ensure_indexed(release: Any) -> None:
    """A release kept from a run before search existed gets its search rows now."""
    from django.db import transaction

    from apps.catalog import search

    if not search.release_is_indexed(release_id=release.pk):
        with transaction.atomic():
            search.release_index(release=release)


def _search_paths(label: str, codes: list[str], n: int, rng: random.Random) -> list[tuple[str, str]]:
    """``n`` search requests as a hospital's users type them, each with its class: code prefixes
    (40%), whole codes (10%), Chinese substrings of names (25%) and of manufacturers (10%), pinyin
    initials (15%)."""
    from urllib.parse import quote

    from apps.catalog.demo import CONSUMABLE_NAMES, DRUG_NAMES, MANUFACTURERS, SERVICE_NAMES, TCM_NAMES
    from apps.catalog.search import pinyin_initials

    names = [n for n, *_ in DRUG_NAMES] + [n for n, _ in SERVICE_NAMES] + [n for n, _ in CONSUMABLE_NAMES] + TCM_NAMES

    def substring(text: str) -> str:
        length = min(len(text), rng.choice([2, 3, 4]))
        start = rng.randrange(0, len(text) - length + 1)
        return text[start : start + length]

    queries = []
    for _ in range(n):
        pick = rng.random()
        if pick < 0.40:
            queries.append(("code prefix", rng.choice(codes)[: rng.choice([4, 6, 9, 12])]))
        elif pick < 0.50:
            queries.append(("whole code", rng.choice(codes)))
        elif pick < 0.75:
            queries.append(("name substring", substring(rng.choice(names))))
        elif pick < 0.85:
            queries.append(("manufacturer substring", substring(rng.choice(MANUFACTURERS))))
        else:
            initials = pinyin_initials(rng.choice(names))
            queries.append(("pinyin initials", initials[: rng.choice([2, 3, 4])]))
    return [(kind, f"/api/v1/catalog/releases/{label}/items/?page_size=20&q={quote(q)}") for kind, q in queries]


def _validation(release: Any, codes: list[str], key: str, rounds: int) -> list[dict[str, Any]]:
    """The validation statement and the endpoint against a bare join of the same 10,000 codes."""
    from django.db import connection
    from rest_framework.test import APIClient

    from apps.benefits.code_check import codes_validate

    rng = random.Random(9)
    wanted = [rng.choice(codes) for _ in range(9_900)] + [f"XA01ABD075A00201010{n:04d}" for n in range(100)]  # 1% unknown
    rng.shuffle(wanted)
    bare_sql = (
        "SELECT i.* FROM unnest(%s::text[]) WITH ORDINALITY AS c(code, ord) "
        "LEFT JOIN catalog_catalogitem i ON i.release_id = %s AND i.code = c.code ORDER BY c.ord"
    )

    def bare() -> float:
        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(bare_sql, [wanted, release.pk])
            cursor.fetchall()
        return time.perf_counter() - start

    def statement() -> float:
        start = time.perf_counter()
        codes_validate(codes=wanted, on_date=release.effective_from, province_code="310000")
        return time.perf_counter() - start

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    body = {"on": release.effective_from.isoformat(), "codes": wanted}

    def endpoint() -> float:
        start = time.perf_counter()
        response = client.post("/api/v1/catalog/validate/", body, format="json")
        assert response.status_code == 200, response.content[:200]
        return time.perf_counter() - start

    for fn in (bare, statement, endpoint):  # warm caches and plans
        fn()
    bare_s: list[float] = []
    ours_s: list[float] = []
    endpoint_s: list[float] = []
    for i in range(rounds):  # interleaved, so load from other work on the machine hits all three alike
        for fn, out in ((bare, bare_s), (statement, ours_s), (endpoint, endpoint_s))[:: 1 if i % 2 else -1]:
            out.append(fn())
    base = statistics.median(bare_s) * 1000
    return [
        row(
            f"validate 10,000 codes: one statement / bare join (median of {rounds})", statistics.median(ours_s) * 1000, base, "<= 2x", "ms"
        ),
        row("validate 10,000 codes: whole endpoint in-process / bare join", statistics.median(endpoint_s) * 1000, base, "report", "ms"),
    ]


def _search_in_process(key: str, paths: list[str]) -> tuple[float, float]:
    """p50 and p99 (ms) of the same searches from one in-process client: the cost of a search
    itself, without the queueing a loaded loopback adds."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    for path in paths[:100]:  # warm the plans and the dictionary's pages
        client.get(path)
    latencies = []
    for path in paths:
        start = time.perf_counter()
        assert client.get(path).status_code == 200
        latencies.append((time.perf_counter() - start) * 1000)
    latencies.sort()
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]


def _hospital_key() -> str:
    from apps.hospitals import services
    from apps.hospitals.models import Hospital

    hospital = Hospital.objects.filter(code="H31010100999").first() or services.hospital_register(
        code="H31010100999", name="bench hospital", province_code="310000"
    )
    return services.api_key_issue(hospital=hospital, name="bench")[1]


def _best_of(fn: Any, runs: int = 3) -> float:
    return min(fn() for _ in range(runs))


def _in_process(key: str, n: int, label: str) -> list[dict[str, Any]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    etag = client.get(f"/api/v1/catalog/releases/{label}/")["ETag"]
    assert client.get(f"/api/v1/catalog/releases/{label}/", HTTP_IF_NONE_MATCH=etag).status_code == 304

    def conditional(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            client.get(f"/api/v1/catalog/releases/{label}/", HTTP_IF_NONE_MATCH=etag)
        return (time.perf_counter() - start) / n

    def trivial(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            client.get("/api/v1/hospital/")
        return (time.perf_counter() - start) / n

    # Many short paired rounds, in alternating order, and the median of each: other work on the
    # machine comes and goes on a scale of seconds, so long rounds compare different loads.
    rounds = max(n // ROUND, 4)
    cond_s, triv_s = [], []
    conditional(ROUND)  # warm-up
    trivial(ROUND)
    for i in range(rounds):
        if i % 2:
            triv_s.append(trivial(ROUND))
            cond_s.append(conditional(ROUND))
        else:
            cond_s.append(conditional(ROUND))
            triv_s.append(trivial(ROUND))
    queries = {}
    for size in (10, 1000):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/api/v1/catalog/releases/{label}/items/?page_size={size}").status_code == 200
        queries[size] = len(captured)
    return [
        row(
            f"manifest 304 / trivial JSON endpoint (in-process, median of {rounds} paired rounds)",
            statistics.median(cond_s) * 1000,
            statistics.median(triv_s) * 1000,
            "<= 1.2x",
            "ms",
        ),
        {
            "figure": "queries per items page: page_size 1000 / 10",
            "ours": str(queries[1000]),
            "baseline": str(queries[10]),
            "ratio": f"{queries[1000] / queries[10]:.2f}x",
            "goal": "= 1.0x",
        },
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "API_KEY_THROTTLE_RATE": "1000000/min",
        "DB_CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    return wait_listening(proc, port)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_snapshot(server: subprocess.Popen[bytes]) -> tuple[dict[int, float], dict[int, float]]:
    """CPU so far of the server's workers and of this database's other backends (the workers')."""
    from django.db import connection

    workers = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server.pid)], capture_output=True, text=True, check=False).stdout.split()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        backends = [row[0] for row in cursor.fetchall()]
    return {int(p): _cpu_seconds(int(p)) for p in workers}, {p: _cpu_seconds(p) for p in backends}


def _cpu_per_request(
    before: tuple[dict[int, float], dict[int, float]], after: tuple[dict[int, float], dict[int, float]], n: int
) -> tuple[float, float]:
    """Web workers' and PostgreSQL backends' CPU (ms) per request between two snapshots."""
    web, db = (sum(v - was.get(pid, 0.0) for pid, v in now.items()) for was, now in zip(before, after, strict=True))
    return web * 1000 / n, db * 1000 / n


def _load(port: int, key: str, paths: list[str]) -> tuple[float, float, float]:
    """p50, p99 (ms) and requests/s for GETs of ``paths`` from CLIENT_THREADS threads."""
    start = time.perf_counter()
    latencies = sorted(_timed_gets(port, key, paths))
    elapsed = time.perf_counter() - start
    return statistics.median(latencies), _p99(latencies), len(paths) / elapsed


def _p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[max(int(len(ordered) * 0.99) - 1, 0)]


def _timed_gets(port: int, key: str, paths: list[str]) -> list[float]:
    """The latency (ms) of each GET of ``paths``, in their order, from CLIENT_THREADS threads."""
    headers = {"Authorization": f"Api-Key {key}", "Host": "127.0.0.1"}

    def one(path: str) -> float:
        start = time.perf_counter()
        conn = HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status}")
        return (time.perf_counter() - start) * 1000

    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        return list(pool.map(one, paths))


def run(quick: bool = False) -> list[dict[str, Any]]:
    setup_django()
    from apps.catalog.models import CatalogItem

    count = 50_000 if quick else 500_000
    requests = 2_000 if quick else 10_000
    release = _release(count)
    _ensure_indexed(release)
    key = _hospital_key()
    from django.conf import settings
    from django.test import override_settings

    # The benchmark measures the API, not the rate limit.
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": None}}):
        rows = _in_process(key, 1000 if quick else 3000, release.label)

    codes = list(CatalogItem.objects.filter(release=release).values_list("code", flat=True))
    rng = random.Random(5)
    lookups = [f"/api/v1/catalog/items/{rng.choice(codes)}/?on={release.effective_from}" for _ in range(requests)]
    classed = _search_paths(release.label, codes, requests, random.Random(6))
    searches = [path for _, path in classed]
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": None}}):
        rows += _validation(release, codes, key, 5 if quick else 11)
        alone_p50, alone_p99 = _search_in_process(key, searches)
    port = _free_port()
    server = _serve(port)
    try:
        _load(port, key, lookups[:200] + searches[:200] + ["/api/v1/hospital/"] * 200)  # warm both workers' caches
        cpu_start = _cpu_snapshot(server)
        base_p50, base_p99, base_rps = _load(port, key, ["/api/v1/hospital/"] * requests)
        cpu_trivial = _cpu_per_request(cpu_start, _cpu_snapshot(server), requests)
        p50, p99, rps = _load(port, key, lookups)
        cpu_start = _cpu_snapshot(server)
        start = time.perf_counter()
        search_ms = _timed_gets(port, key, searches)
        search_rps = len(searches) / (time.perf_counter() - start)
        cpu_search = _cpu_per_request(cpu_start, _cpu_snapshot(server), len(searches))
        load_average = os.getloadavg()
    finally:
        server.terminate()
        server.wait(10)
    search_p50, search_p99 = statistics.median(search_ms), _p99(search_ms)
    by_class: dict[str, list[float]] = {}
    for (kind, _), ms in zip(classed, search_ms, strict=True):
        by_class.setdefault(kind, []).append(ms)
    n = f"{count // 1000}k"
    rows += [
        row(f"item look-up p50 ({requests} req, {n} release) / trivial JSON p50", p50, base_p50, "report", "ms"),
        row(f"item look-up p99 ({requests} req, {n} release) / trivial JSON p99", p99, base_p99, "report", "ms"),
        {
            "figure": "item look-up throughput / trivial (req/s)",
            "ours": f"{rps:.0f}",
            "baseline": f"{base_rps:.0f}",
            "ratio": f"{base_rps / rps:.2f}x",
            "goal": "report",
        },
        {
            "figure": f"item search in-process, one client ({requests} req, page_size 20, {n} release): p50 / p99",
            "ours": f"{alone_p50:.3f} ms",
            "baseline": f"{alone_p99:.3f} ms",
            "ratio": "",
            "goal": "report",
        },
        row(f"item search p50 ({requests} req, page_size 20, {n} release) / trivial JSON p50", search_p50, base_p50, "report", "ms"),
        row(f"item search p99 ({requests} req, page_size 20, {n} release) / trivial JSON p99", search_p99, base_p99, "p99 <= 50 ms", "ms"),
        {
            "figure": "item search throughput / trivial (req/s)",
            "ours": f"{search_rps:.0f}",
            "baseline": f"{base_rps:.0f}",
            "ratio": f"{base_rps / search_rps:.2f}x",
            "goal": "report",
        },
        # What the tail under load follows, and what load on the machine hardly moves: the CPU a
        # search costs beyond the trivial endpoint's, in the web workers and in PostgreSQL.
        {
            "figure": "CPU per request, web workers / PostgreSQL: search vs trivial JSON",
            "ours": f"{cpu_search[0]:.2f} / {cpu_search[1]:.2f} ms",
            "baseline": f"{cpu_trivial[0]:.2f} / {cpu_trivial[1]:.2f} ms",
            "ratio": f"+{cpu_search[0] - cpu_trivial[0]:.2f} / +{cpu_search[1] - cpu_trivial[1]:.2f} ms",
            "goal": "report",
        },
        # The same run's searches by class: under this closed-loop load every class waits in the
        # same queue, so a class's tail shows the queue as much as its own statements.
        *(
            {
                "figure": f"  item search, {kind} ({len(ms)} req): p50 / p99 under the same load",
                "ours": f"{statistics.median(ms):.1f} ms",
                "baseline": f"{_p99(ms):.1f} ms",
                "ratio": "",
                "goal": "report",
            }
            for kind, ms in sorted(by_class.items())
        ),
        {
            "figure": "load average (1 min) at the end of the loopback runs",
            "ours": f"{load_average[0]:.1f}",
            "baseline": "",
            "ratio": "",
            "goal": "report",
        },
    ]
    return rows


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))
