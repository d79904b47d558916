"""Province walls of reconciliation (API.md "Controls"): a province-bound importer's rows are of
her own side's province; runs are started by national finance users only; a run's detail, report
page, admin page and job result shown to a province-bound user hold only the pairs involving her
province and her own net position."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from apps.benefits.models import Province
from apps.core.bulk import BulkFileRejected
from apps.core.models import Job
from apps.core.roles import Role
from apps.reconciliation import services
from tests.factories import staff

from .conftest import GD, PERIOD, SC, SH, csv_bytes, row

BJ = "110000"
# Distinctive fund amounts: Beijing (home) pays Guangdong 4,815,162 fen; Sichuan pays Shanghai 2,718,281.
BJ_GD_FUND, SC_SH_FUND = 4_815_162, 2_718_281


@pytest.fixture
def four(recon_default_plan: Any) -> Any:
    Province.objects.get_or_create(code=BJ, defaults={"name": "北京市"})
    from apps.pooling import services as pooling

    pooling.accounts_ensure()
    return recon_default_plan


def _import(*, side: str, rows: list[str], user: Any) -> dict[str, Any]:
    return services.settlement_import(period=PERIOD, side=side, file=io.BytesIO(csv_bytes(*rows)), user=user, filename="s.csv")


def _rejections(*, side: str, rows: list[str], user: Any) -> list[tuple[int, str, str]]:
    with pytest.raises(BulkFileRejected) as err:
        _import(side=side, rows=rows, user=user)
    return sorted((e["line"], e["column"], e["code"]) for e in err.value.errors)


@pytest.fixture
def two_pairs_run(four: Any) -> Any:
    """A finished run with Beijing→Guangdong and Sichuan→Shanghai claims (imported and run by an operator)."""
    rows = [
        row("BJ-GD-1", home=BJ, dest=GD, total=BJ_GD_FUND + 100, fund=BJ_GD_FUND),
        row("SC-SH-1", home=SC, dest=SH, total=SC_SH_FUND + 100, fund=SC_SH_FUND),
    ]
    for side in ("home", "destination"):
        _import(side=side, rows=rows, user=None)
    return services.reconciliation_run(period=PERIOD, user=None)


def _leaks(text: str) -> list[str]:
    """Beijing's and Guangdong's figures in a body meant for Sichuan."""
    return [marker for marker in (BJ, GD, str(BJ_GD_FUND), "BJ-GD-1") if marker in text]


# --- settlement imports --------------------------------------------------------------------------


def test_a_shanghai_maker_importing_beijing_guangdong_rows_gets_a_wrong_province_error_per_row(four):
    maker = staff(Role.FINANCE_MAKER, SH, username="sh-walls-maker")
    rows = [row("X1", home=BJ, dest=GD), row("X2", home=GD, dest=BJ)]
    assert _rejections(side="home", rows=rows, user=maker) == [
        (2, "home_province", "wrong_province"),
        (3, "home_province", "wrong_province"),
    ]


def test_on_the_destination_side_the_destination_province_is_checked(four):
    maker = staff(Role.FINANCE_MAKER, SH, username="sh-walls-maker")
    rows = [row("X1", home=SH, dest=BJ), row("X2", home=BJ, dest=SH)]
    assert _rejections(side="destination", rows=rows, user=maker) == [(2, "destination_province", "wrong_province")]


def test_a_maker_imports_the_rows_of_her_own_province_on_her_side(four):
    maker = staff(Role.FINANCE_MAKER, SH, username="sh-walls-maker")
    assert _import(side="home", rows=[row("X1", home=SH, dest=BJ), row("X2", home=SH, dest=GD)], user=maker)["rows"] == 2


def test_a_national_maker_imports_rows_of_any_province(four):
    national = staff(Role.FINANCE_MAKER, username="national-maker")
    assert _import(side="home", rows=[row("X1", home=BJ, dest=GD), row("X2", home=SC, dest=SH)], user=national)["rows"] == 2


def test_the_import_job_of_a_province_bound_maker_fails_with_the_wrong_province_rows(four, api, django_capture_on_commit_callbacks):
    maker = staff(Role.FINANCE_MAKER, SH, username="sh-walls-maker")
    upload = SimpleUploadedFile("s.csv", csv_bytes(row("X1", home=BJ, dest=GD)))
    with django_capture_on_commit_callbacks(execute=True):
        response = api(maker).post("/api/v1/settlements/imports/", {"file": upload, "side": "home", "period": PERIOD}, format="multipart")
    job = api(maker).get(response.json()["job"]["url"]).json()
    assert (job["state"], [(e["line"], e["code"]) for e in job["errors"]]) == ("failed", [(2, "wrong_province")])


def test_a_settlement_import_job_records_the_importers_province(four, api):
    maker = staff(Role.FINANCE_MAKER, SH, username="sh-walls-maker")
    upload = SimpleUploadedFile("s.csv", csv_bytes(row("X1", home=SH, dest=GD)))
    response = api(maker).post("/api/v1/settlements/imports/", {"file": upload, "side": "home", "period": PERIOD}, format="multipart")
    assert Job.objects.get(pk=response.json()["job"]["id"]).params["province"] == SH


# --- who starts a run -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.FINANCE_MAKER, Role.FINANCE_CHECKER])
def test_a_province_bound_finance_user_cannot_start_a_run(four, api, role):
    response = api(staff(role, SH, username="sh-walls-finance")).post("/api/v1/reconciliation/runs/", {"period": PERIOD}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


@pytest.mark.parametrize("role", [Role.FINANCE_MAKER, Role.FINANCE_CHECKER])
def test_a_national_finance_user_starts_a_run_recorded_as_a_national_job(four, api, role):
    response = api(staff(role, username="national-finance")).post("/api/v1/reconciliation/runs/", {"period": PERIOD}, format="json")
    assert (response.status_code, Job.objects.get(pk=response.json()["job"]["id"]).params["province"]) == (202, "")


def test_create_staff_without_a_province_makes_a_national_finance_checker(db):
    call_command("create_staff", "national-checker", "--role", "finance_checker", stdout=io.StringIO())
    from django.contrib.auth import get_user_model

    profile = get_user_model().objects.get(username="national-checker").staff_profile
    assert (profile.role, profile.province_code) == ("finance_checker", "")


# --- what a province-bound user reads of a run -------------------------------------------------


def test_run_detail_shows_sichuan_staff_only_sichuans_pairs_and_net_position(two_pairs_run, api):
    body = api(staff(Role.PROVINCE_STAFF, SC, username="sc-walls")).get(f"/api/v1/reconciliation/runs/{two_pairs_run.pk}/").json()
    assert (body["net_positions"], _leaks(str(body))) == ({SC: -SC_SH_FUND}, [])


def test_run_detail_shows_national_finance_every_pair(two_pairs_run, api):
    body = api(staff(Role.FINANCE_CHECKER, username="national-checker")).get(f"/api/v1/reconciliation/runs/{two_pairs_run.pk}/").json()
    assert body["net_positions"] == {BJ: -BJ_GD_FUND, GD: BJ_GD_FUND, SC: -SC_SH_FUND, SH: SC_SH_FUND}


def test_run_job_result_shows_sichuan_staff_only_sichuans_pairs_and_net_position(four, api, django_capture_on_commit_callbacks):
    rows = [row("BJ-GD-1", home=BJ, dest=GD, total=BJ_GD_FUND, fund=BJ_GD_FUND), row("SC-SH-1", home=SC, dest=SH)]
    for side in ("home", "destination"):
        _import(side=side, rows=rows, user=None)
    national = staff(Role.FINANCE_MAKER, username="national-maker")
    with django_capture_on_commit_callbacks(execute=True):
        job_url = api(national).post("/api/v1/reconciliation/runs/", {"period": PERIOD}, format="json").json()["job"]["url"]
    body = api(staff(Role.FINANCE_CHECKER, SC, username="sc-walls-checker")).get(job_url).json()
    assert (body["state"], body["result"]["net_positions"], _leaks(str(body))) == ("succeeded", {SC: -7000}, [])


def test_the_staff_job_page_of_a_run_shows_sichuan_staff_only_sichuans_pairs(four, api, django_capture_on_commit_callbacks):
    rows = [row("BJ-GD-1", home=BJ, dest=GD, total=BJ_GD_FUND, fund=BJ_GD_FUND), row("SC-SH-1", home=SC, dest=SH)]
    for side in ("home", "destination"):
        _import(side=side, rows=rows, user=None)
    national = staff(Role.FINANCE_MAKER, username="national-maker")
    with django_capture_on_commit_callbacks(execute=True):
        job_id = api(national).post("/api/v1/reconciliation/runs/", {"period": PERIOD}, format="json").json()["job"]["id"]
    client = Client()
    client.force_login(staff(Role.FINANCE_CHECKER, SC, username="sc-walls-checker"))
    page = client.get(f"/staff/jobs/{job_id}/")
    assert (page.status_code, _leaks(page.content.decode())) == (200, [])


def test_the_run_admin_page_shows_sichuan_finance_only_sichuans_pairs(two_pairs_run):
    client = Client()
    client.force_login(staff(Role.FINANCE_CHECKER, SC, username="sc-walls-checker"))
    page = client.get(f"/admin/reconciliation/reconciliationrun/{two_pairs_run.pk}/change/")
    assert (page.status_code, _leaks(page.content.decode())) == (200, [])


def test_the_run_report_page_shows_sichuan_staff_only_sichuans_pairs(two_pairs_run):
    client = Client()
    client.force_login(staff(Role.PROVINCE_STAFF, SC, username="sc-walls"))
    page = client.get(f"/reconciliation/runs/{two_pairs_run.pk}/")
    assert (page.status_code, _leaks(page.content.decode())) == (200, [])


def test_run_detail_is_403_for_catalog_roles(two_pairs_run, api, reviewer):
    response = api(reviewer).get(f"/api/v1/reconciliation/runs/{two_pairs_run.pk}/")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
