"""The staff import endpoint, the job it queues, and the import_catalog command."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.catalog import services
from apps.catalog.models import CatalogItem
from tests.factories import draft_release

pytestmark = pytest.mark.django_db
DATA = Path(__file__).resolve().parent.parent / "data" / "catalog"


@pytest.fixture
def draft(catalog_admin):
    return draft_release(label="2026.01", effective_from=dt.date(2026, 1, 1), user=catalog_admin)


def upload(name, fmt="canonical-csv", data=None):
    content = data if data is not None else (DATA / name).read_bytes()
    return {"file": SimpleUploadedFile(name, content, content_type="text/csv"), "format": fmt}


def post_import(api, user, label, payload, capture):
    with capture(execute=True):
        return api(user).post(f"/api/v1/releases/{label}/imports/", payload, format="multipart")


def test_import_endpoint_answers_202_with_the_job_to_poll(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    response = post_import(api, catalog_admin, draft.label, upload("canonical.csv"), django_capture_on_commit_callbacks)
    job = api(catalog_admin).get(response.json()["job"]["url"]).json()
    assert (response.status_code, job["state"], job["result"]["added"], job["done"] == job["total"]) == (202, "succeeded", 7, True)


def test_job_of_a_bad_file_lists_the_row_errors(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    response = post_import(api, catalog_admin, draft.label, upload("canonical_bad_rows.csv"), django_capture_on_commit_callbacks)
    job = api(catalog_admin).get(f"/api/v1/jobs/{response.json()['job']['id']}/").json()
    assert (job["state"], job["error_count"], job["errors"][0]) == (
        "failed",
        6,
        {"line": 3, "column": "code", "code": "code_format", "message": job["errors"][0]["message"]},
    )


def test_import_into_a_non_draft_is_409_at_request_time(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    CatalogItem.objects.create(release=draft, code="001102000010000", kind="service", name="一般诊疗费", category="01")
    services.release_submit(release=draft, user=catalog_admin)
    response = post_import(api, catalog_admin, draft.label, upload("canonical.csv"), django_capture_on_commit_callbacks)
    assert (response.status_code, response.json()["code"]) == (409, "release_not_draft")


def test_unknown_import_format_is_400(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    response = post_import(api, catalog_admin, draft.label, upload("canonical.csv", fmt="dbf"), django_capture_on_commit_callbacks)
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")


def test_auditor_cannot_import(api, auditor, draft, django_capture_on_commit_callbacks):
    response = post_import(api, auditor, draft.label, upload("canonical.csv"), django_capture_on_commit_callbacks)
    assert response.status_code == 403


def test_import_catalog_command_loads_the_file(catalog_admin, draft):
    out = io.StringIO()
    call_command(
        "import_catalog",
        str(DATA / "nhsa_consumables.csv"),
        release=draft.label,
        format="nhsa-consumables-csv",
        user=catalog_admin.username,
        no_progress=True,
        stdout=out,
    )
    assert "3 rows, 3 added" in out.getvalue()


def test_import_catalog_command_exits_1_and_prints_row_errors(catalog_admin, draft):
    err = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command(
            "import_catalog",
            str(DATA / "canonical_bad_rows.csv"),
            release=draft.label,
            format="canonical-csv",
            no_progress=True,
            stderr=err,
        )
    assert (exc.value.returncode, "line 6 [category] unknown_category" in err.getvalue()) == (1, True)


def test_admin_upload_form_on_a_draft_queues_the_import_and_lists_the_job(client, catalog_admin, draft, django_capture_on_commit_callbacks):
    client.force_login(catalog_admin)
    url = f"/admin/catalog/catalogrelease/{draft.pk}/import/"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"file": SimpleUploadedFile("canonical.csv", (DATA / "canonical.csv").read_bytes()), "format": "canonical-csv"})
    page = client.get(url).content.decode()
    assert (CatalogItem.objects.filter(release=draft).count(), 'class="job-succeeded"' in page) == (7, True)


def test_job_fails_with_release_not_draft_when_the_draft_was_submitted_before_it_ran(
    api, catalog_admin, draft, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api(catalog_admin).post(f"/api/v1/releases/{draft.label}/imports/", upload("canonical.csv"), format="multipart")
    CatalogItem.objects.create(release=draft, code="001102000010000", kind="service", name="一般诊疗费", category="01")
    services.release_submit(release=draft, user=catalog_admin)
    for callback in callbacks:
        callback()
    job = api(catalog_admin).get(f"/api/v1/jobs/{response.json()['job']['id']}/").json()
    assert (job["state"], [e["code"] for e in job["errors"]]) == ("failed", ["release_not_draft"])
