"""A 100 MB upload is streamed, not read into memory, and ends in bounded time: the catalog import
job (stored upload -> COPY -> set-based checks) and the settlements import job each refuse a
100 MB file with one bad row at its very end, naming that row, and write nothing.

Python-side memory is measured with tracemalloc around the whole job (upload storage included);
PostgreSQL's side of COPY is its own affair. The wall-clock bound is loose (CI machines differ);
benchmarks/import_catalog.py has the real throughput figures."""

from __future__ import annotations

import datetime as dt
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from django.core.files import File

from apps.benefits.models import Province
from apps.catalog.importers.services import import_enqueue
from apps.catalog.models import CatalogItem
from apps.core.models import Job
from apps.core.roles import Role
from apps.reconciliation import services as reconciliation
from apps.reconciliation.models import SettlementRecord
from tests.factories import draft_release, staff

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SIZE = 100 * 1024 * 1024
MEMORY_LIMIT = 64 * 1024 * 1024  # Python allocations while a 100 MB file is handled
TIME_LIMIT = 240.0


def _write(path: Path, header: str, rows: Any, bad_last_row: str) -> int:
    """Write header + rows until SIZE bytes, then one bad row; returns the bad row's line."""
    line = 1
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(header + "\n")
        written = len(header) + 1
        for text in rows:
            out.write(text + "\n")
            written += len(text.encode()) + 1
            line += 1
            if written >= SIZE:
                break
        out.write(bad_last_row + "\n")
    return line + 1


def _measured(run: Any) -> tuple[float, int]:
    tracemalloc.start()
    started = time.monotonic()
    try:
        run()
    finally:
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return elapsed, peak


def _catalog_rows() -> Any:
    """Service items with real-sized text (~560 bytes a row, ~190,000 rows in 100 MB)."""
    name = "经皮穿刺肝胆管引流术（含置管）" * 4
    restriction = "限三级医院；限有明确指征且经其他治疗无效的患者，需提供影像学检查结果并经科室主任审核同意后使用。" * 3
    for n in range(1, 10**14):
        yield f"{n:015d},{name}{n},01,{restriction}"


def test_a_100_mb_catalog_file_is_streamed_and_refused_on_its_last_row(tmp_path, catalog_admin, django_capture_on_commit_callbacks):
    draft = draft_release(label="2026.07", effective_from=dt.date(2026, 7, 1), user=catalog_admin)
    path = tmp_path / "items.csv"
    bad_line = _write(path, "code,name,category,restriction_text", _catalog_rows(), "NOT-A-CODE,坏行,01,")
    assert path.stat().st_size >= SIZE
    jobs: list[Job] = []

    def run() -> None:
        with path.open("rb") as handle, django_capture_on_commit_callbacks(execute=True):
            jobs.append(import_enqueue(release=draft, upload=File(handle, name="items.csv"), fmt="canonical-csv", user=catalog_admin))

    elapsed, peak = _measured(run)
    print(f"catalog 100 MB: {elapsed:.1f} s, Python peak {peak / 2**20:.1f} MiB")
    job = Job.objects.get(pk=jobs[0].pk)
    errors = [(e["line"], e["code"]) for e in job.errors]
    assert (job.state, errors, CatalogItem.objects.filter(release=draft).count(), peak < MEMORY_LIMIT, elapsed < TIME_LIMIT) == (
        "failed",
        [(bad_line, "code_format")],
        0,
        True,
        True,
    ), f"peak {peak / 2**20:.1f} MiB in {elapsed:.1f} s"


def test_a_100_mb_settlement_file_is_streamed_and_refused_on_its_last_row(tmp_path, django_capture_on_commit_callbacks):
    for code, name in (("310000", "上海市"), ("510000", "四川省")):
        Province.objects.get_or_create(code=code, defaults={"name": name})
    maker = staff(Role.FINANCE_MAKER, "310000", username="sh-maker")
    header = "settlement_id,home_province,destination_province,hospital_code,patient_id_hash,date_of_service,release_label,drg_group,total_fen,fund_fen,patient_fen"
    rows = (f"S{n:063d},510000,310000,H31010100001,{n:064x},2026-03-10,2026.03,DRG1,10000,7000,3000" for n in range(10**9))
    path = tmp_path / "settled.csv"
    bad_line = _write(path, header, rows, "SBAD,510000,310000,H31010100001,ff,2026-03-10,2026.03,DRG1,-1,0,0")
    jobs: list[Job] = []

    def run() -> None:
        with path.open("rb") as handle, django_capture_on_commit_callbacks(execute=True):
            jobs.append(
                reconciliation.settlement_import_enqueue(
                    period="2026-03", side="destination", upload=File(handle, name="s.csv"), user=maker
                )
            )

    elapsed, peak = _measured(run)
    print(f"settlements 100 MB: {elapsed:.1f} s, Python peak {peak / 2**20:.1f} MiB")
    job = Job.objects.get(pk=jobs[0].pk)
    assert (job.state, job.errors[0]["line"], SettlementRecord.objects.count(), peak < MEMORY_LIMIT, elapsed < TIME_LIMIT) == (
        "failed",
        bad_line,
        0,
        True,
        True,
    ), f"peak {peak / 2**20:.1f} MiB in {elapsed:.1f} s"
