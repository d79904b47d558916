"""Batch pre-check of 1,000 claim lines against a 500,000-item release.

Ours: the whole adjudication service (release in force, home policy, item scope, local items,
diagnoses, the money split of every line). Baseline: a bare SQL ``unnest`` join fetching the
same codes' rows from the same release, in the same process. Also prints the query count,
which must not grow with the number of lines.

Run: ``.venv/bin/python benchmarks/precheck.py`` (DATABASE_URL defaults to portal_h7_bench).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import print_table, setup_django

ITEMS = 500_000
LINES = 1_000
LABEL = "bench-precheck-500k"
EFFECTIVE = dt.date(2090, 1, 1)
HOME, DESTINATION = "510000", "310000"

BASELINE_SQL = (
    "SELECT u.code, i.category, i.self_pay_ratio, i.restriction_hospital_level "
    "FROM unnest(%s::text[]) AS u(code) JOIN catalog_catalogitem i ON i.release_id = %s AND i.code = u.code"
)


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
                [admin.pk, admin.pk, timezone.now(), release.pk],
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
    ]


if __name__ == "__main__":
    os.environ.setdefault("DATABASE_URL", "postgres://root@127.0.0.1:5432/portal_h7_bench")
    print_table(run(quick="--quick" in sys.argv))
