"""Pre-check figures against a 500,000-item release.

1. Batch pre-check of 1,000 claim lines. Ours: the whole adjudication service (release in force,
   home policy and its disease terms, item scope with every restriction, local items, daily
   doses, diagnoses, procedures, DRG terms, the money split of every line). Baseline: a bare SQL
   ``unnest`` join fetching the same codes' rows — the columns the pre-check reads — from the
   same release, in the same process. Goal <= 1.5x. Also prints the query count, which must not
   grow with the number of lines.
2. Throughput through gunicorn on loopback (one worker per core, the benchmark's client in the
   same machine): claims of 20 lines per second, POSTed by a hospital's API key, against a
   trivial authenticated endpoint (GET /api/v1/hospital/) under the same load (same client,
   same concurrency). Goal >= 0.5x.

Run: ``.venv/bin/python benchmarks/precheck.py [--quick]`` (DATABASE_URL defaults to
portal_h7_bench). --quick runs 7 instead of 41 rounds of (1) and 600 instead of 3,000 requests
of (2); the release is 500,000 items either way (built once, kept).
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
from decimal import Decimal
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import ROOT, print_table, setup_django
from _topology import wait_listening

ITEMS = 500_000
LINES = 1_000
LABEL = "bench-precheck-500k"
EFFECTIVE = dt.date(2090, 1, 1)
HOME, DESTINATION = "510000", "310000"

BASELINE_SQL = (
    "SELECT u.code, i.category, i.self_pay_ratio, i.restriction_hospital_level, i.restriction_indication, i.restriction_max_days, "
    "i.payment_standard_fen FROM unnest(%s::text[]) AS u(code) JOIN catalog_catalogitem i ON i.release_id = %s AND i.code = u.code"
)
CLAIM_LINES = 20
CLIENT_THREADS = 8
SLICES = 6
HOSPITAL = "H31010100998"


def _ensure_release() -> Any:
    from django.db import connection, transaction
    from django.utils import timezone

    from apps.catalog.models import CatalogRelease
    from apps.core.roles import Role
    from apps.core.services import staff_create

    release = CatalogRelease.objects.filter(label=LABEL).first()
    if release is not None and release.is_published:
        return release
    from django.contrib.auth import get_user_model

    User = get_user_model()
    admin = User.objects.filter(username="bench-precheck-admin").first() or staff_create(
        username="bench-precheck-admin", role=Role.CATALOG_ADMIN, province_code="", password="x-bench-x"
    )
    # Two people on every release (catalog.0006's trigger): one builds it, another approves it.
    reviewer = User.objects.filter(username="bench-precheck-reviewer").first() or staff_create(
        username="bench-precheck-reviewer", role=Role.CATALOG_REVIEWER, province_code="", password="x-bench-x"
    )
    with transaction.atomic():
        release = CatalogRelease.objects.create(label=LABEL, effective_from=EFFECTIVE, created_by=admin)
        with connection.cursor() as cursor:
            # Service-item codes (15 digits) with the real category mix; 乙 items carry a self-pay share.
            cursor.execute(
                "INSERT INTO catalog_catalogitem (release_id, code, kind, name, generic_name, dosage_form, specification, "
                "manufacturer, unit, pricing_unit, category, restriction_text, restriction_indication, restriction_hospital_level, "
                "self_pay_ratio, category_path, replaces) "
                "SELECT %s, lpad(n::text, 15, '0'), 'service', 'bench item ' || n, '', '', '', '', '次', '次', "
                "(ARRAY['01','02','02','03'])[1 + n %% 4], '', '', CASE WHEN n %% 97 = 0 THEN '3A' ELSE '' END, "
                "CASE WHEN n %% 4 IN (1, 2) THEN 0.1 END, '', '[]'::jsonb FROM generate_series(1, %s) AS n",
                [release.pk, ITEMS],
            )
            cursor.execute(
                "UPDATE catalog_catalogrelease SET status = 'published', approved_by_id = %s, approved_at = now(), "
                "published_by_id = %s, published_at = %s, sha256 = repeat('0', 64) WHERE id = %s",
                [reviewer.pk, reviewer.pk, timezone.now(), release.pk],
            )
            cursor.execute("ANALYZE catalog_catalogitem")
    release.refresh_from_db()
    return release


def _ensure_policy() -> None:
    from apps.benefits import services
    from apps.benefits.models import BenefitPolicy
    from apps.benefits.selectors import province_by_code
    from apps.core.roles import Role
    from apps.core.services import staff_create

    if BenefitPolicy.objects.filter(province__code=HOME, status="approved", effective_from=EFFECTIVE).exists():
        return
    maker = staff_create(username="bench-sc-maker", role=Role.PROVINCE_STAFF, province_code=HOME, password="x-bench-x")
    checker = staff_create(username="bench-sc-checker", role=Role.PROVINCE_STAFF, province_code=HOME, password="x-bench-x")
    policy = services.policy_create_draft(
        user=maker,
        province=province_by_code(HOME),
        scheme="employee",
        setting="inpatient",
        effective_from=EFFECTIVE,
        deductible_fen=80_000,
        ratio_category_a=Decimal("0.9"),
        ratio_category_b=Decimal("0.85"),
        default_self_pay_ratio=Decimal("0.1"),
        annual_cap_fen=40_000_000,
        cross_province_ratio_registered=Decimal("1"),
        cross_province_ratio_unregistered=Decimal("0.8"),
    )
    services.policy_submit(policy=policy, user=maker)
    services.policy_approve(policy=policy, user=checker)


def _interleaved_medians(ours: Any, baseline: Any, repeat: int) -> tuple[float, float]:
    """Median seconds of each, run alternately so load on the machine hits both alike."""
    ours(), baseline()  # warm caches and plans
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, out in ((ours, samples[0]), (baseline, samples[1])):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(samples[0]), statistics.median(samples[1])


def _claim_bodies(rng: random.Random, count: int) -> list[bytes]:
    """JSON bodies of ``count`` different claims of CLAIM_LINES lines each."""
    import json

    bodies = []
    for _ in range(count):
        lines = [
            {"line_no": n, "code": f"{rng.randint(1, ITEMS):015d}", "quantity": rng.randint(1, 5), "amount_fen": rng.randint(100, 500_000)}
            for n in range(1, CLAIM_LINES + 1)
        ]
        claim = {
            "home_province": HOME,
            "date_of_service": (EFFECTIVE + dt.timedelta(days=1)).isoformat(),
            "scheme": "employee",
            "setting": "inpatient",
            "registered": False,
            "diagnoses": ["K35.800"],
            "lines": lines,
        }
        bodies.append(json.dumps(claim).encode())
    return bodies


def _hospital_key() -> str:
    from apps.hospitals import services
    from apps.hospitals.models import Hospital

    hospital = Hospital.objects.filter(code=HOSPITAL).first() or services.hospital_register(
        code=HOSPITAL, name="bench pre-check hospital", province_code=DESTINATION, level="3A"
    )
    return services.api_key_issue(hospital=hospital, name="bench-precheck")[1]


def _serve(port: int) -> subprocess.Popen[bytes]:
    """gunicorn on loopback as production runs it (Procfile ``web``: config/gunicorn.py, so gthread
    workers with their threads and pooled database connections), one worker per core, with the
    test suite's settings."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "API_KEY_THROTTLE_RATE": "1000000/min",
        "LOG_LEVEL": "WARNING",
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_WORKERS": str(os.cpu_count() or 1),
    }
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi", "--config", "config/gunicorn.py", "--log-level", "warning"], cwd=ROOT, env=env
    )
    return wait_listening(proc, port)


def _load(port: int, key: str, requests: list[tuple[str, str, bytes | None]]) -> float:
    """Requests per second for ``requests`` (method, path, body) from CLIENT_THREADS threads;
    every answer must be 200."""
    headers = {"Authorization": f"Api-Key {key}", "Host": "127.0.0.1", "Content-Type": "application/json"}

    def one(request: tuple[str, str, bytes | None]) -> None:
        method, path, body = request
        conn = HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status} {payload[:300]!r}")

    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        list(pool.map(one, requests))
    return len(requests) / (time.perf_counter() - start)


def _throughput(quick: bool) -> dict[str, Any]:
    rng = random.Random(11)
    key = _hospital_key()
    count = 600 if quick else 3_000
    bodies = _claim_bodies(rng, 200)
    claims = [("POST", "/api/v1/claims/precheck/", bodies[i % len(bodies)]) for i in range(count)]
    trivial = [("GET", "/api/v1/hospital/", None)] * count
    port = _free_port()
    server = _serve(port)
    try:
        _load(port, key, claims[:100] + trivial[:100])  # warm every worker's caches, plans and pooled connections
        # Alternate in six slices each, so the machine's other load falls on both alike.
        seconds = {"claims": 0.0, "trivial": 0.0}
        step = count // SLICES
        for start in range(0, step * SLICES, step):
            for name, requests in (("trivial", trivial), ("claims", claims)):
                seconds[name] += step / _load(port, key, requests[start : start + step])
    finally:
        server.terminate()
        server.wait(10)
    done = step * SLICES
    ours, base = done / seconds["claims"], done / seconds["trivial"]
    return {
        "figure": f"pre-check claims of {CLAIM_LINES} lines/s through gunicorn ({os.cpu_count()} gthread workers, {count} req)",
        "ours": f"{ours:.0f}/s",
        "baseline": f"{base:.0f}/s (trivial authenticated GET)",
        "ratio": f"{ours / base:.2f}x",
        "goal": ">= 0.5x",
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(quick: bool) -> list[dict[str, Any]]:
    setup_django()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.benefits.adjudication import Claim, ClaimLine, adjudicate

    release = _ensure_release()
    _ensure_policy()
    rng = random.Random(7)
    codes = [f"{rng.randint(1, ITEMS):015d}" for _ in range(LINES - 20)] + [f"{ITEMS + n:015d}" for n in range(1, 21)]
    claim = Claim(
        home_province=HOME,
        destination_province=DESTINATION,
        hospital_code="H31010100001",
        hospital_level="3A",
        date_of_service=EFFECTIVE + dt.timedelta(days=1),
        scheme="employee",
        setting="inpatient",
        registered=False,
        lines=tuple(ClaimLine(line_no=n, code=code, amount_fen=rng.randint(100, 500_000)) for n, code in enumerate(codes, start=1)),
    )

    def ours() -> None:
        result = adjudicate(claim)
        assert len(result.lines) == LINES

    def baseline() -> None:
        with connection.cursor() as cursor:
            cursor.execute(BASELINE_SQL, [codes, release.pk])
            cursor.fetchall()

    ours_s, base_s = _interleaved_medians(ours, baseline, 7 if quick else 41)
    with CaptureQueriesContext(connection) as ctx:
        ours()
    queries = len(ctx.captured_queries)
    return [
        {
            "figure": f"pre-check {LINES} lines vs {ITEMS:,}-item release",
            "ours": f"{ours_s * 1000:.1f} ms",
            "baseline": f"{base_s * 1000:.1f} ms (bare unnest join)",
            "ratio": f"{ours_s / base_s:.2f}x",
            "goal": "<= 1.5x",
        },
        {
            "figure": f"pre-check queries for {LINES} lines",
            "ours": str(queries),
            "baseline": "1",
            "ratio": f"{queries}",
            "goal": "constant",
        },
        _throughput(quick),
    ]


if __name__ == "__main__":
    os.environ.setdefault("DATABASE_URL", "postgres://root@127.0.0.1:5432/portal_h7_bench")
    print_table(run(quick="--quick" in sys.argv))
