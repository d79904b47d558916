"""A catalog release from upload to the hospital API, in a real browser: import a file into a
draft, watch the job, review the diff, a second person approves, publish, a hospital reads it."""

from __future__ import annotations

import csv
import datetime as dt
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from apps.benefits.models import Province
from apps.catalog.demo import generate_items
from apps.catalog.models import CatalogRelease
from apps.core.models import Job
from apps.hospitals import services as hospitals
from tests.factories import draft_release, published_release

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """A canonical-csv file of ``rows`` (item dicts as generate_items makes them)."""
    columns = ["code", "name", "generic_name", "dosage_form", "specification", "manufacturer", "unit", "pricing_unit", "category"]
    columns += ["restriction_text", "self_pay_ratio", "replaces"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({**row, "replaces": ";".join(row.get("replaces") or [])} for row in rows)
    return path


def test_upload_review_approve_publish_and_the_hospital_api_sees_the_release(staff_browser, catalog_admin, reviewer, tmp_path):
    base_items = list(generate_items(3, seed=5))
    base = published_release(label="2025A", effective_from=dt.date(2025, 1, 1), admin=catalog_admin, reviewer=reviewer, items=base_items)
    draft = draft_release(label="2026A", effective_from=dt.date(2026, 1, 1), user=catalog_admin, based_on=base)
    changed, new = base_items[0], next(generate_items(1, seed=6, start=500))
    upload = _csv(
        tmp_path / "2026A.csv",
        [
            {**changed, "name": "恩替卡韦分散片（新规格）"},
            new,
        ],
    )
    browser = staff_browser

    # The catalog administrator uploads the file into the draft in admin.
    browser.log_in("catalog-admin")
    browser.shot("staff-home")
    page = browser.open(f"/admin/catalog/catalogrelease/{draft.pk}/import/")
    page.set_input_files("#import-form input[name=file]", str(upload))
    page.select_option("#import-form select[name=format]", "canonical-csv")
    page.select_option("#import-form select[name=mode]", "merge")
    page.click("#import-form [type=submit]")

    # The upload leads to the job page (no "queued" banner), which follows the job to its end.
    page.wait_for_selector("#job[data-state=succeeded]")
    assert page.inner_text("#job-counts-table .diff-added") == "1"
    assert page.inner_text("#job-percent") == "100%"
    assert Job.objects.get(kind="catalog.import").state == "succeeded"
    browser.shot("job-finished")

    # The review page shows the field-level change and the added item; she submits.
    page.click("#job-review-link")
    changed_rows = " ".join(page.locator("#diff .diff-changed").all_inner_texts())
    assert "恩替卡韦分散片（新规格）" in changed_rows and changed["manufacturer"] not in changed_rows
    assert new["code"] in " ".join(page.locator("#diff .diff-added").all_inner_texts())
    browser.shot("review-diff")
    page.click("input[name=submit]")
    page.wait_for_selector("input[name=approve]")
    browser.log_out()

    # A reviewer (a second person) approves.
    browser.log_in("catalog-reviewer")
    page = browser.open("/catalog/releases/2026A/review/")
    page.click("input[name=approve]")
    page.wait_for_selector("input[name=publish]")
    browser.log_out()

    # The administrator publishes.
    browser.log_in("catalog-admin")
    page = browser.open("/catalog/releases/2026A/review/")
    page.click("input[name=publish]")
    page.wait_for_selector("#counts")
    browser.shot("published")
    assert CatalogRelease.objects.get(label="2026A").status == CatalogRelease.Status.PUBLISHED

    # A hospital system reads the release over HTTP with its API key.
    Province.objects.get_or_create(code="310000", defaults={"name": "上海市", "name_en": "Shanghai"})  # robust to a flushed db
    hospital = hospitals.hospital_register(code="H31010100001", name="上海市第一人民医院", province_code="310000")
    _, raw_key = hospitals.api_key_issue(hospital=hospital)
    request = urllib.request.Request(f"{browser.base_url}/api/v1/catalog/releases/2026A/", headers={"Authorization": f"Api-Key {raw_key}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.load(response)
    assert body["label"] == "2026A", body
    assert body["diff_counts"] == {"added": 1, "changed": 1, "removed": 0, "retired": 0}, body
