"""Provincial pooling in admin: figures import and risk-adjustment runs queued as jobs, the run's
page with formula and inputs, the funds page's charts in yuan, budgets, advance policies and
moves to unified collection and expenditure, every write through the services."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.benefits.models import PoolingRegion, Province
from apps.core.models import Job
from apps.core.roles import Role
from apps.pooling import services
from apps.pooling.models import AdjustmentRule, AdjustmentRun, AdvanceFundPolicy, PoolingBudget, PoolingModelChange
from tests.pooling.conftest import SC, SH, national_finance

pytestmark = pytest.mark.django_db
FIGURES = (
    b"region_code,period,fund_income_fen,fund_expenditure_fen,active_insured,retirees\n"
    b"510100,2026-01,100000000,80000000,300000,100000\n"
    b"510300,2026-01,10000000,15000000,50000,60000\n"
)


def spec(page: str, element_id: str) -> Any:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', page, re.S)
    assert match, f"no json_script #{element_id}"
    return json.loads(match.group(1))


def dataset(chart: dict[str, Any], index: int, label: str) -> float:
    return float(chart["datasets"][index]["data"][chart["labels"].index(label)])


@pytest.fixture
def sichuan_run(people: Any) -> AdjustmentRun:
    AdjustmentRule.objects.create(
        province=Province.objects.get(code=SC), contribution_share=Decimal("0.05"), effective_from=dt.date(2026, 1, 1)
    )
    services.figures_import(file=SimpleUploadedFile("f.csv", FIGURES), user=people.sc_maker, filename="f.csv")
    return services.adjustment_run(period="2026-01", province=Province.objects.get(code=SC))[0]


def test_the_figures_upload_page_queues_the_import_and_opens_its_job(client, people, django_capture_on_commit_callbacks):
    client.force_login(people.sc_maker)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:pooling_figures_import"), {"file": SimpleUploadedFile("f.csv", FIGURES)})
    job = Job.objects.get(kind="pooling.figures_import")
    assert (response.url, job.state, job.result["created"]) == (reverse("staff:job", args=[job.pk]), "succeeded", 2)


def test_the_run_page_queues_a_run_and_opens_its_job(client, people, sichuan_run, django_capture_on_commit_callbacks):
    services.region_figures_put(
        region=PoolingRegion.objects.get(code="510300"),
        period="2026-01",
        fund_income_fen=20_000_000,
        fund_expenditure_fen=15_000_000,
        active_insured=50_000,
        retirees=60_000,
        user=people.sc_maker,
    )
    client.force_login(people.sc_checker)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:pooling_adjustment_run"), {"period": "2026-01", "province": SC})
    job = Job.objects.get(kind="pooling.adjustment_run")
    assert (response.url, job.state, job.result["created"]) == (reverse("staff:job", args=[job.pk]), "succeeded", True)


def test_the_run_page_offers_a_province_bound_user_her_own_province_only(client, people):
    client.force_login(people.sc_maker)
    page = client.get(reverse("admin:pooling_adjustment_run")).content.decode()
    assert (f'value="{SC}"' in page, f'value="{SH}"' in page, 'value=""' in page) == (True, False, False)


def test_a_run_refused_by_the_service_comes_back_as_a_message(client, people):
    client.force_login(people.sh_maker)
    response = client.post(reverse("admin:pooling_adjustment_run"), {"period": "2026-01", "province": SC}, follow=True)
    assert "wrong_province" in response.content.decode()


def test_the_runs_page_shows_the_formula_and_every_units_inputs(client, people, sichuan_run):
    client.force_login(people.sc_checker)
    page = client.get(reverse("admin:pooling_adjustmentrun_change", args=[sichuan_run.pk])).content.decode()
    assert "contribution_i = round_half_up" in page and "成都市" in page and "¥50,000.00" in page


def test_the_funds_page_charts_the_runs_contributions_and_allocations_in_yuan(client, people, sichuan_run):
    client.force_login(people.sc_checker)
    chart = spec(client.get(reverse("admin:pooling_overview")).content.decode(), "adjustment-chart-data")
    assert (dataset(chart, 0, "成都市"), dataset(chart, 0, "自贡市"), chart["unit"]) == (50_000.0, 5_000.0, "¥")


def test_the_funds_page_charts_advances_against_their_thresholds_in_yuan(client, people):
    services.advance_policy_set(province=Province.objects.get(code=SC), threshold_fen=1_000_00, target_fen=5_000_00, user=people.sc_checker)
    client.force_login(people.sc_maker)
    chart = spec(client.get(reverse("admin:pooling_overview")).content.decode(), "advance-chart-data")
    assert (chart["labels"], dataset(chart, 2, "四川省"), dataset(chart, 3, "四川省")) == (["四川省"], 1_000.0, 5_000.0)


def test_the_funds_page_charts_budget_against_actual_per_month_in_yuan(client, people):
    budget = services.budget_save(
        province=Province.objects.get(code=SC), year=2026, expenditure_fen=10_000_00, cross_regional_fen=1_200_00, user=people.sc_maker
    )
    services.clearing_record(period="2026-02", pairs=[(SC, SH, 3, 250_00)], source="test")
    client.force_login(people.sc_checker)
    page = client.get(reverse("admin:pooling_overview") + f"?year=2026&budget={budget.pk}").content.decode()
    chart = spec(page, "budget-chart-data")
    assert (len(chart["labels"]), dataset(chart, 0, "2026-02"), dataset(chart, 1, "2026-02"), dataset(chart, 1, "2026-03")) == (
        12,
        100.0,
        250.0,
        0.0,
    )


def test_the_funds_page_shows_another_provinces_budget_to_nobody_walled(client, people):
    budget = services.budget_save(
        province=Province.objects.get(code=SC), year=2026, expenditure_fen=10, cross_regional_fen=1, user=people.sc_maker
    )
    client.force_login(people.sh_checker)
    page = client.get(reverse("admin:pooling_overview") + f"?year=2026&budget={budget.pk}").content.decode()
    assert 'id="budget-chart-data"' not in page


def test_a_budget_added_in_admin_goes_through_the_service(client, people):
    client.force_login(people.sc_maker)
    client.post(
        reverse("admin:pooling_poolingbudget_add"),
        {
            "year": 2026,
            "province": Province.objects.get(code=SC).pk,
            "expenditure_fen": "10.00",
            "cross_regional_fen": "1.00",
            "alert_ratio": "0.8",
        },
    )
    budget = PoolingBudget.objects.get()
    assert (budget.updated_by, budget.alert_ratio, budget.expenditure_fen) == (people.sc_maker, Decimal("0.8"), 1000)


def test_an_advance_policy_added_by_a_maker_is_refused_with_a_message(client, people):
    client.force_login(people.sc_maker)
    response = client.post(
        reverse("admin:pooling_advancefundpolicy_add"),
        {"province": Province.objects.get(code=SC).pk, "threshold_fen": "0.01", "target_fen": "0.02"},
        follow=True,
    )
    assert (AdvanceFundPolicy.objects.exists(), "permission_denied" in response.content.decode()) == (False, True)


def test_a_move_to_unified_is_proposed_in_admin_and_completed_by_a_checker(client, people):
    client.force_login(people.sc_maker)
    client.post(reverse("admin:pooling_poolingmodelchange_add"), {"province": Province.objects.get(code=SC).pk, "reason": "统收统支"})
    change = PoolingModelChange.objects.get()
    client.force_login(people.sc_checker)
    client.post(reverse("admin:pooling_poolingmodelchange_changelist"), {"action": "complete", "_selected_action": [change.pk]})
    assert (PoolingModelChange.objects.get().state, Province.objects.get(code=SC).pooling_model) == ("completed", "unified")


def test_the_pooling_model_of_a_province_is_not_editable_in_its_admin(client, people):
    client.force_login(national_finance(Role.FINANCE_CHECKER, "root"))
    sichuan = Province.objects.get(code=SC)
    client.post(reverse("admin:benefits_province_change", args=[sichuan.pk]), {"code": SC, "name": "四川省", "pooling_model": "unified"})
    assert Province.objects.get(code=SC).pooling_model == "adjustment_fund"


def test_a_province_bound_maker_cannot_add_a_national_rule_in_admin(client, people):
    client.force_login(people.sc_maker)
    response = client.post(
        reverse("admin:pooling_adjustmentrule_add"),
        {
            "contribution_share": "0.5",
            "allocation_share": "1",
            "weight_dependency": "0.5",
            "weight_deficit": "0.5",
            "effective_from": "2026-01-01",
        },
        follow=True,
    )
    assert (AdjustmentRule.objects.exists(), "permission_denied" in response.content.decode()) == (False, True)


def test_a_rule_a_run_used_is_not_edited_but_superseded(client, people, sichuan_run):
    client.force_login(people.sc_maker)
    rule = sichuan_run.rule
    response = client.post(
        reverse("admin:pooling_adjustmentrule_change", args=[rule.pk]),
        {
            "province": rule.province_id,
            "contribution_share": "0.9",
            "allocation_share": "1",
            "weight_dependency": "0.5",
            "weight_deficit": "0.5",
            "effective_from": "2026-01-01",
        },
        follow=True,
    )
    rule.refresh_from_db()
    assert (rule.contribution_share, "rule_in_use" in response.content.decode()) == (Decimal("0.05"), True)
