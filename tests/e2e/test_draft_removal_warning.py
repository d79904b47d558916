"""In a real browser: a new draft starts from the release in force; a replace import that drops
items shows its counts; the review warns in red and submitting asks for a confirmation.
Screenshots at 1,280 px of the import results and the review go to var/screenshots/."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from apps.catalog.demo import generate_items
from apps.catalog.models import CatalogItem, CatalogRelease
from tests.factories import published_release

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def _csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    columns = ["code", "name", "manufacturer", "category", "restriction_text"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_a_draft_from_the_release_in_force_warns_about_removals_and_asks_before_submitting(
    staff_browser, catalog_admin, reviewer, tmp_path
):
    items = list(generate_items(6, seed=41))
    items[0] = {**items[0], "restriction_text": "限二级及以上医疗机构"}
    published_release(label="2026.01", effective_from=dt.date(2026, 1, 1), admin=catalog_admin, reviewer=reviewer, items=items)
    browser = staff_browser
    browser.log_in("catalog-admin")

    # "Add release": the form starts from the release in force unless told otherwise.
    page = browser.open("/admin/catalog/catalogrelease/add/")
    assert page.locator("select[name=start_from]").input_value() == "in_force"
    page.fill("input[name=label]", "2027.01")
    page.fill("input[name=effective_from]", "2027-01-01")
    page.click("input[name=_save]")
    page.wait_for_load_state()
    draft = CatalogRelease.objects.get(label="2027.01")
    assert (draft.based_on.label, CatalogItem.objects.filter(release=draft).count()) == ("2026.01", 6)

    # A wrong file: one `format` error, errors downloadable, no success banner.
    page = browser.open(f"/admin/catalog/catalogrelease/{draft.pk}/import/")
    page.set_input_files("#import-form input[name=file]", str(_csv(tmp_path / "items.csv", items[:2])))
    page.select_option("#import-form select[name=format]", "nrdl-json")
    page.click("#import-form [type=submit]")
    page.wait_for_selector("#job[data-state=failed]")
    assert (
        page.locator("#job-error-rows .code-format").count() > 0,
        page.locator("#job-errors-csv").count(),
        page.locator(".messagelist .success").count(),
    ) == (
        True,
        1,
        0,
    )
    _shot(page, "import-result-failed")

    # A replace import of four of the six items, the first with its restriction left blank.
    kept = [{**items[0], "restriction_text": ""}, *items[1:4]]
    page = browser.open(f"/admin/catalog/catalogrelease/{draft.pk}/import/")
    page.set_input_files("#import-form input[name=file]", str(_csv(tmp_path / "four.csv", kept)))
    page.select_option("#import-form select[name=format]", "canonical-csv")
    page.select_option("#import-form select[name=mode]", "replace")
    page.click("#import-form [type=submit]")
    page.wait_for_selector("#job[data-state=succeeded]")
    assert (page.inner_text("#job-counts-table .diff-removed"), page.locator("#job-removed-warning").count()) == ("2", 1)
    _shot(page, "import-result")

    # The review: a red warning with the counts, and Submit asks for a confirmation.
    page.click("#job-review-link")
    warning = page.locator("#review-warning")
    assert warning.is_visible()
    # Replace mode: the columns the file lacks are emptied too (generic name, form, …), so more than one.
    assert ("2" in page.inner_text("#warning-removed"), page.locator("#warning-cleared").is_visible()) == (True, True)
    color = warning.evaluate("e => getComputedStyle(e).color")
    assert color == "rgb(186, 33, 33)"
    _shot(page, "review")

    page.click("#review-submit input[type=submit]")  # the unticked confirmation stops the form
    assert CatalogRelease.objects.get(pk=draft.pk).status == "draft"
    page.check("#confirm-removals")
    page.click("#review-submit input[type=submit]")
    page.wait_for_selector("input[name=approve]")
    assert CatalogRelease.objects.get(pk=draft.pk).status == "in_review"
