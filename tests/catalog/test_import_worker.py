"""Imports run by a real Celery worker over Redis, and progress seen from outside the import's
transaction."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from apps.catalog.importers.services import import_enqueue
from apps.catalog.models import CatalogItem
from apps.core.bulk import JobProgress
from apps.core.jobs import job_create, job_run
from apps.core.models import Job
from tests.factories import draft_release
from tests.integration.conftest import broker, start_worker, wait_for  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
DATA = Path(__file__).resolve().parent.parent / "data" / "catalog"


def _finished(job_id):
    return lambda: Job.objects.get(pk=job_id).state in ("succeeded", "failed")


@pytest.mark.integration
def test_worker_runs_the_queued_import_and_the_job_reports_success(broker, start_worker, catalog_admin):  # noqa: F811
    draft = draft_release(label="2026.01", effective_from=dt.date(2026, 1, 1), user=catalog_admin)
    start_worker(MEDIA_ROOT=str(settings.MEDIA_ROOT))
    upload = SimpleUploadedFile("canonical_gb18030_crlf.csv", (DATA / "canonical_gb18030_crlf.csv").read_bytes())
    job = import_enqueue(release=draft, upload=upload, fmt="canonical-csv", user=catalog_admin)
    wait_for(_finished(job.pk), timeout=60, what="the import job to finish")
    job.refresh_from_db()
    assert (job.state, job.result["added"], job.result["encoding"], CatalogItem.objects.filter(release=draft).count()) == (
        "succeeded",
        7,
        "GB18030",
        7,
    )


@pytest.mark.integration
def test_worker_fails_the_job_of_a_bad_file_and_changes_nothing(broker, start_worker, catalog_admin):  # noqa: F811
    draft = draft_release(label="2026.01", effective_from=dt.date(2026, 1, 1), user=catalog_admin)
    start_worker(MEDIA_ROOT=str(settings.MEDIA_ROOT))
    upload = SimpleUploadedFile("canonical_bad_rows.csv", (DATA / "canonical_bad_rows.csv").read_bytes())
    job = import_enqueue(release=draft, upload=upload, fmt="canonical-csv", user=catalog_admin)
    wait_for(_finished(job.pk), timeout=60, what="the import job to finish")
    job.refresh_from_db()
    assert (job.state, job.error_count, CatalogItem.objects.filter(release=draft).count()) == ("failed", 6, 0)


def test_progress_is_visible_while_the_import_transaction_is_open(catalog_admin):
    job = job_create(kind="catalog.import", user=catalog_admin)
    progress = JobProgress(job.pk, total=1000)
    try:
        with transaction.atomic():
            progress(400, force=True)
            seen = Job.objects.values_list("done", "total").get(pk=job.pk)
    finally:
        progress.close()
    assert seen == (400, 1000)


def test_rerunning_a_finished_import_job_changes_nothing(catalog_admin):
    draft = draft_release(label="2026.01", effective_from=dt.date(2026, 1, 1), user=catalog_admin)
    upload = SimpleUploadedFile("canonical.csv", (DATA / "canonical.csv").read_bytes())
    job = import_enqueue(release=draft, upload=upload, fmt="canonical-csv", user=catalog_admin)  # eager: runs on commit
    history = CatalogItem.history.count()
    job_run(job.pk)
    assert (Job.objects.get(pk=job.pk).state, CatalogItem.history.count()) == ("succeeded", history)
