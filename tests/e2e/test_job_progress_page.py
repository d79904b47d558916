"""The job page updates itself while a job runs (no reload): progress, then the result."""

from __future__ import annotations

import pytest

from apps.core.models import Job

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_job_page_follows_a_running_job_to_its_end_without_a_reload(staff_browser, catalog_admin):
    job = Job.objects.create(kind="catalog.import", state=Job.State.RUNNING, done=10, total=100, params={"filename": "药品目录.csv"})
    browser = staff_browser
    browser.log_in("catalog-admin")
    page = browser.open(f"/staff/jobs/{job.pk}/")
    page.wait_for_selector("#job[data-polls]")
    assert page.inner_text("#job-percent") == "10%"
    page.evaluate("window.__sameDocument = true")

    Job.objects.filter(pk=job.pk).update(done=60)
    page.wait_for_function("document.getElementById('job-percent').textContent === '60%'")
    browser.shot("running")

    Job.objects.filter(pk=job.pk).update(
        state=Job.State.FAILED,
        done=100,
        error_count=1,
        errors=[{"line": 3, "column": "code", "code": "invalid_code", "message": "编码无效"}],
    )
    page.wait_for_selector("#job[data-state=failed]")
    assert "编码无效" in page.inner_text("#job-errors")
    assert page.evaluate("window.__sameDocument") is True
    browser.shot("failed")
