"""Provincial pooling in a real browser: a Sichuan finance maker uploads the month's region
figures, runs the risk adjustment from admin, and the funds page draws the contributions and
allocations, the advances and the budget against actual with Chart.js, in yuan."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from apps.benefits.models import Province
from apps.pooling import services
from apps.pooling.models import AdjustmentRule, AdjustmentRun, Transfer
from tests.pooling.conftest import SC, SH, People, ensure_ledger

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

FIGURES = (
    "region_code,period,fund_income_fen,fund_expenditure_fen,active_insured,retirees,cross_regional_fen\n"
    "510100,2026-01,100000000,80000000,300000,100000,4000000\n"
    "510300,2026-01,10000000,15000000,50000,60000,900000\n"
)


def chart(page: Any, canvas: str) -> dict[str, Any]:
    """Labels and datasets of the Chart.js chart drawn on ``canvas``."""
    page.wait_for_selector(f"#{canvas}[data-chart-ready]")
    return page.evaluate(
        """(id) => { const c = Chart.getChart(document.getElementById(id));
                     return {labels: c.data.labels, data: c.data.datasets.map(d => d.data)}; }""",
        canvas,
    )


def test_figures_uploaded_and_a_run_started_in_admin_are_charted_in_yuan(staff_browser, tmp_path: Path):
    ensure_ledger()
    people = People()
    sichuan = Province.objects.get(code=SC)
    AdjustmentRule.objects.create(province=sichuan, contribution_share=Decimal("0.05"), effective_from=dt.date(2026, 1, 1))
    services.advance_policy_set(province=sichuan, threshold_fen=2_000_000_00, target_fen=5_000_000_00, user=people.sc_checker)
    services.budget_save(province=sichuan, year=2026, expenditure_fen=100_000_000_00, cross_regional_fen=1_200_000_00, user=people.sc_maker)
    services.clearing_record(period="2026-01", pairs=[(SC, SH, 120, 150_000_00)], source="reconciliation run #1")
    upload = tmp_path / "四川-2026-01.csv"
    upload.write_text(FIGURES, encoding="gb18030")
    browser = staff_browser

    # The maker uploads the month's figures; the job page follows the import to its end.
    browser.log_in("sc-maker")
    page = browser.open("/admin/pooling/regionperiodfigures/import/")
    page.set_input_files("input[name=file]", str(upload))
    page.click("#figures-import-form [type=submit]")
    page.wait_for_selector("#job[data-state=succeeded]")

    # She starts Sichuan's risk adjustment of January; the job page shows it finished.
    page = browser.open("/admin/pooling/adjustmentrun/run/")
    page.fill("input[name=period]", "2026-01")
    page.select_option("select[name=province]", SC)
    page.click("#adjustment-run-form [type=submit]")
    page.wait_for_selector("#job[data-state=succeeded]")
    run = AdjustmentRun.objects.get(province=sichuan, period="2026-01")
    assert set(Transfer.objects.filter(pk__in=run.transfer_ids).values_list("state", flat=True)) == {"proposed"}

    # The funds page draws the run (contributions: 5 % of income), the advance against its
    # threshold and the budget against what the clearing settled, all in yuan.
    page = browser.open("/admin/pooling/fundaccount/overview/?year=2026")
    adjustment = chart(page, "adjustment-chart")
    assert (adjustment["labels"], adjustment["data"][0]) == (["成都市", "自贡市"], [50_000, 5_000])
    advance = chart(page, "advance-chart")
    assert advance["data"][2][advance["labels"].index("四川省")] == 2_000_000
    budget = chart(page, "budget-chart")
    assert (budget["labels"][0], budget["data"][0][0], budget["data"][1][0]) == ("2026-01", 100_000, 150_000)
    browser.shot("funds-page-provincial-pooling")
