"""A province-bound user sees only jobs of her province (``params["province"]``, set when the job
is queued), on the job endpoint, the staff job page and in admin; national jobs of kinds that
say how to cut them down (reconciliation runs) are shown to her cut down, others not at all."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.catalog.importers.services import import_enqueue
from apps.core.models import Job
from apps.core.roles import Role
from apps.reconciliation import services as reconciliation
from tests.factories import draft_release, staff
from tests.pooling.conftest import SC, SH, ensure_ledger

pytestmark = pytest.mark.django_db
HEADER = b"settlement_id,home_province,destination_province,hospital_code,patient_id_hash,date_of_service,release_label,drg_group,total_fen,fund_fen,patient_fen\n"


@pytest.fixture
def sh_import_job(db: Any) -> Job:
    ensure_ledger()
    maker = staff(Role.FINANCE_MAKER, SH, username="sh-job-maker")
    return reconciliation.settlement_import_enqueue(
        period="2026-03", side="home", upload=SimpleUploadedFile("sh-settlements.csv", HEADER), user=maker
    )


def test_a_settlement_import_job_belongs_to_the_importers_province(sh_import_job):
    assert sh_import_job.params["province"] == SH


def test_a_catalog_import_job_is_national(catalog_admin):
    release = draft_release(label="2031.01", effective_from=dt.date(2031, 1, 1), user=catalog_admin)
    job = import_enqueue(release=release, upload=SimpleUploadedFile("a.csv", b"code\n"), fmt="canonical-csv", user=catalog_admin)
    assert job.params["province"] == ""


def test_staff_of_another_province_do_not_find_the_job(api, sh_import_job):
    response = api(staff(Role.FINANCE_CHECKER, SC, username="sc-job-checker")).get(f"/api/v1/jobs/{sh_import_job.pk}/")
    assert response.status_code == 404


def test_staff_of_the_province_read_the_job(api, sh_import_job):
    response = api(staff(Role.FINANCE_CHECKER, SH, username="sh-job-checker")).get(f"/api/v1/jobs/{sh_import_job.pk}/")
    assert (response.status_code, response.json()["state"]) == (200, "queued")


def test_the_staff_job_page_of_another_provinces_job_is_404(sh_import_job):
    client = Client()
    client.force_login(staff(Role.PROVINCE_STAFF, SC, username="sc-job-staff"))
    assert client.get(f"/staff/jobs/{sh_import_job.pk}/").status_code == 404


@pytest.fixture
def run_job(db: Any, django_capture_on_commit_callbacks: Any) -> Job:
    """A finished national run in which Sichuan pays Shanghai a distinctive 3,141,592 fen."""
    ensure_ledger()
    line = f"S-1,{SC},{SH},H31000001,ph1,2026-03-10,2026.03,,3141692,3141592,100\n".encode()
    for side in ("home", "destination"):
        reconciliation.settlement_import(period="2026-03", side=side, file=io.BytesIO(HEADER + line), user=None, filename="s.csv")
    with django_capture_on_commit_callbacks(execute=True):
        job = reconciliation.reconciliation_request(period="2026-03", user=None)
    job.refresh_from_db()
    assert job.state == "succeeded"
    return job


def test_a_catalog_role_does_not_read_a_reconciliation_job(api, run_job, reviewer):
    response = api(reviewer).get(f"/api/v1/jobs/{run_job.pk}/")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_the_job_admin_refuses_a_catalog_admin_the_page_of_a_run(run_job, catalog_admin):
    client = Client()
    client.force_login(catalog_admin)
    page = client.get(f"/admin/core/job/{run_job.pk}/change/")
    assert (page.status_code, "3141592" in page.content.decode()) == (403, False)


def test_the_job_admin_shows_an_auditor_the_whole_run(run_job, auditor):
    client = Client()
    client.force_login(auditor)
    page = client.get(f"/admin/core/job/{run_job.pk}/change/")
    assert (page.status_code, "3141592" in page.content.decode()) == (200, True)


def test_a_catalog_role_does_not_read_a_settlement_import_job(api, sh_import_job, reviewer):
    response = api(reviewer).get(f"/api/v1/jobs/{sh_import_job.pk}/")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
