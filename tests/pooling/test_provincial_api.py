"""The provincial-pooling endpoints over HTTP: contracts, the money-reader allow-list and the
province walls (a province-bound user never reads another province's figures, runs rows,
advances, budgets or pooling-model changes)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from apps.benefits.models import PoolingRegion, Province
from apps.core.roles import Role
from apps.pooling import services
from apps.pooling.models import AdjustmentRule, AdjustmentRun, Transfer
from tests.factories import staff
from tests.pooling.conftest import SC, SH, national_finance

pytestmark = pytest.mark.django_db
PERIOD = "2026-01"


def client(user: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def figures(people: Any) -> None:
    for code, income in (("510100", 1_000_000_00), ("510300", 100_000_00)):
        services.region_figures_put(
            region=PoolingRegion.objects.get(code=code),
            period=PERIOD,
            fund_income_fen=income,
            fund_expenditure_fen=900_000_00,
            active_insured=100_000,
            retirees=50_000,
            user=people.sc_maker,
        )
    services.region_figures_put(
        province=Province.objects.get(code=SH),
        period=PERIOD,
        fund_income_fen=5_000_000_00,
        fund_expenditure_fen=3_000_000_00,
        active_insured=1_000_000,
        retirees=400_000,
        user=people.sh_maker,
    )


@pytest.fixture
def runs(people: Any) -> dict[str, AdjustmentRun]:
    figures(people)
    AdjustmentRule.objects.create(
        province=Province.objects.get(code=SC), contribution_share=Decimal("0.05"), effective_from=dt.date(2026, 1, 1)
    )
    AdjustmentRule.objects.create(province=None, contribution_share=Decimal("0.01"), effective_from=dt.date(2026, 1, 1))
    provincial, _ = services.adjustment_run(period=PERIOD, province=Province.objects.get(code=SC))
    national, _ = services.adjustment_run(period=PERIOD)
    return {"provincial": provincial, "national": national}


def test_a_figures_upload_answers_202_with_the_job_that_imports_it(people, django_capture_on_commit_callbacks):
    body = b"region_code,period,fund_income_fen,fund_expenditure_fen,active_insured,retirees\n510100,2026-01,1,1,1,1\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = client(people.sc_maker).post(
            "/api/v1/pooling/figures/imports/", {"file": SimpleUploadedFile("f.csv", body)}, format="multipart"
        )
    job = client(people.sc_maker).get(response.json()["job"]["url"]).json()
    assert (response.status_code, job["state"], job["result"]["created"]) == (202, "succeeded", 1)


def test_figures_are_listed_for_the_readers_province_only(people):
    figures(people)
    rows = client(people.sh_checker).get("/api/v1/pooling/figures/").json()["results"]
    assert {row["province"] for row in rows} == {SH}


def test_an_auditor_reads_every_provinces_figures(people, auditor):
    figures(people)
    rows = client(auditor).get(f"/api/v1/pooling/figures/?period={PERIOD}").json()["results"]
    assert {row["province"] for row in rows} == {SH, SC}


def test_catalog_roles_do_not_read_pooling_money(people, catalog_admin):
    figures(people)
    response = client(catalog_admin).get("/api/v1/pooling/figures/")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_a_run_request_answers_202_and_the_job_names_the_run(people, runs, django_capture_on_commit_callbacks):
    services.region_figures_put(
        region=PoolingRegion.objects.get(code="510100"),
        period=PERIOD,
        fund_income_fen=2_000_000_00,
        fund_expenditure_fen=900_000_00,
        active_insured=100_000,
        retirees=50_000,
        user=people.sc_maker,
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client(people.sc_checker).post("/api/v1/pooling/adjustment-runs/", {"period": PERIOD, "province": SC}, format="json")
    job = client(people.sc_checker).get(response.json()["job"]["url"]).json()
    assert (response.status_code, job["state"], job["result"]["created"]) == (202, "succeeded", True)


def test_a_province_bound_maker_cannot_request_the_national_run(people, runs):
    response = client(people.sc_maker).post("/api/v1/pooling/adjustment-runs/", {"period": PERIOD}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_a_maker_cannot_request_another_provinces_run(people, runs):
    response = client(people.sh_maker).post("/api/v1/pooling/adjustment-runs/", {"period": PERIOD, "province": SC}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "wrong_province")


def test_a_run_shows_its_formula_parameters_and_each_units_inputs(people, runs):
    body = client(people.sc_checker).get(f"/api/v1/pooling/adjustment-runs/{runs['provincial'].pk}/").json()
    assert ("contribution_i = round_half_up(I_i × s)" in body["formula"], body["parameters"]["contribution_share"], len(body["rows"])) == (
        True,
        "0.0500",
        2,
    )
    assert {"fund_income_fen", "retirees", "dependency_ratio", "deficit_fen", "weight", "contribution_fen", "allocation_fen"} <= set(
        body["rows"][0]
    )


def test_another_provinces_run_is_404(people, runs):
    assert client(people.sh_checker).get(f"/api/v1/pooling/adjustment-runs/{runs['provincial'].pk}/").status_code == 404


def test_a_province_bound_reader_of_a_national_run_sees_her_own_row_and_transfers_only(people, runs):
    body = client(people.sh_checker).get(f"/api/v1/pooling/adjustment-runs/{runs['national'].pk}/").json()
    own = Transfer.objects.filter(pk__in=body["transfer_ids"]).select_related("from_account__province", "to_account__province")
    provinces = {t.from_account.province_code or t.to_account.province_code for t in own}
    assert ([row["code"] for row in body["rows"]], provinces) == ([SH], {SH})


def test_a_national_reader_sees_every_row_of_a_national_run(people, runs, auditor):
    body = client(auditor).get(f"/api/v1/pooling/adjustment-runs/{runs['national'].pk}/").json()
    assert [row["code"] for row in body["rows"]] == [SH, SC]


def test_the_advance_list_shows_the_readers_province(people):
    services.advance_policy_set(province=Province.objects.get(code=SH), threshold_fen=100, target_fen=500, user=people.sh_checker)
    rows = client(people.sh_maker).get("/api/v1/pooling/advances/").json()["results"]
    assert [(r["province"], r["balance_fen"], r["threshold_fen"], r["target_fen"], r["below_threshold"]) for r in rows] == [
        (SH, 0, 100, 500, True)
    ]


def test_a_budget_is_set_and_read_with_its_twelve_months(people):
    response = client(people.sh_maker).post(
        "/api/v1/pooling/budgets/",
        {"year": 2026, "province": SH, "expenditure_fen": 1_200_00, "cross_regional_fen": 120_00, "alert_ratio": "0.8000"},
        format="json",
    )
    detail = client(people.sh_checker).get(f"/api/v1/pooling/budgets/{response.json()['id']}/").json()
    assert (response.status_code, detail["alert_ratio"], len(detail["months"]), detail["months"][0]["budget_fen"]) == (
        200,
        "0.8000",
        12,
        10_00,
    )


def test_a_budget_with_money_as_a_float_is_a_validation_error(people):
    response = client(people.sh_maker).post(
        "/api/v1/pooling/budgets/", {"year": 2026, "province": SH, "expenditure_fen": 100.0, "cross_regional_fen": 0}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")


def test_another_provinces_budget_is_404(people):
    budget = services.budget_save(
        province=Province.objects.get(code=SH), year=2026, expenditure_fen=10, cross_regional_fen=1, user=people.sh_maker
    )
    assert client(people.sc_checker).get(f"/api/v1/pooling/budgets/{budget.pk}/").status_code == 404


def test_unification_is_proposed_by_a_maker_and_completed_by_a_checker_over_the_api(people):
    created = client(people.sc_maker).post("/api/v1/pooling/unifications/", {"province": SC, "reason": "统收统支"}, format="json")
    own = client(people.sc_maker).post(f"/api/v1/pooling/unifications/{created.json()['id']}/complete/")
    done = client(people.sc_checker).post(f"/api/v1/pooling/unifications/{created.json()['id']}/complete/")
    assert (created.status_code, own.json()["code"], done.status_code, done.json()["state"]) == (
        201,
        "same_user_cannot_approve",
        200,
        "completed",
    )


def test_a_finance_user_without_a_province_reads_every_advance(people):
    national = national_finance(Role.FINANCE_CHECKER, "nat-checker")
    assert len(client(national).get("/api/v1/pooling/advances/").json()["results"]) == Province.objects.count()


def test_provincial_staff_read_their_provinces_budgets(people):
    services.budget_save(province=Province.objects.get(code=SH), year=2026, expenditure_fen=10, cross_regional_fen=1, user=people.sh_maker)
    services.budget_save(province=Province.objects.get(code=SC), year=2026, expenditure_fen=10, cross_regional_fen=1, user=people.sc_maker)
    rows = client(staff(Role.PROVINCE_STAFF, SC, username="sc-staff")).get("/api/v1/pooling/budgets/").json()["results"]
    assert [row["province"] for row in rows] == [SC]
