"""Maker-checker in a real browser: a finance maker proposes ¥1,234.56 in yuan (the form shows
the debited account's available balance), a checker of the same province approves it on the
transfer's detail page through the confirmation step with a reason, and the fund balances chart
shows the new balance. Screenshots of the list and the detail page at 1,280 px go to
var/screenshots/ (not committed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps.core.models import AuditEvent
from apps.pooling.models import Transfer
from tests.pooling.conftest import SH, People, account, ensure_ledger, fund

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
CHART_DATA = """() => {
  const chart = Chart.getChart(document.getElementById("fund-chart"));
  return {labels: chart.data.labels, balances: chart.data.datasets[0].data};
}"""
PAGE_WIDTH = "() => document.documentElement.scrollWidth"


def _chart_balance(page: Any, label: str) -> float:
    """The balance bar (yuan) that the drawn Chart.js chart shows for ``label``."""
    page.wait_for_selector("#fund-chart[data-chart-ready]")
    data = page.evaluate(CHART_DATA)
    return float(data["balances"][data["labels"].index(label)])


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_maker_proposes_yuan_and_a_checker_approves_it_on_its_detail_page_with_a_reason(staff_browser):
    ensure_ledger()
    people = People()
    provincial, national = account("provincial", SH), account("national")
    fund(provincial, 5_000_00, people)
    browser = staff_browser

    # The maker sees ¥5,000 on the chart and proposes moving ¥1,234.56 to the national fund.
    browser.log_in("sh-maker")
    page = browser.open("/admin/pooling/fundaccount/overview/")
    assert _chart_balance(page, str(provincial)) == 5000.0
    page = browser.open("/admin/pooling/transfer/add/")
    assert "¥5,000.00" in page.inner_text("#id_from_account")  # the available balance beside the account
    assert page.locator("#id_to_account option").count() <= 6  # her province's accounts and the national fund
    page.select_option("#id_from_account", str(provincial.pk))
    page.select_option("#id_to_account", str(national.pk))
    page.fill("#id_amount_fen", "1234.56")
    page.fill("#id_memo", "上解调剂金")
    page.click("input[name=_save]")
    page.wait_for_selector("#timeline")
    transfer = Transfer.objects.get(memo="上解调剂金")
    assert (transfer.state, transfer.amount_fen) == (Transfer.State.PROPOSED, 123456)
    assert page.locator("#action-approve").count() == 0  # the maker never approves her own
    browser.log_out()

    # A checker of the same province finds it in the list and approves it on its detail page.
    browser.log_in("sh-checker")
    page = browser.open("/admin/pooling/transfer/?state__exact=proposed")
    assert "¥1,234.56" in page.inner_text("#result_list") and "123456" not in page.inner_text("#result_list")
    assert page.evaluate(PAGE_WIDTH) <= 1280
    screenshot(page, "transfer-list")
    page.click(f"#result_list a[href*='/pooling/transfer/{transfer.pk}/change/']")
    page.wait_for_selector("#action-approve")
    assert page.evaluate(PAGE_WIDTH) <= 1280
    screenshot(page, "transfer-detail-proposed")
    page.click("#action-approve")
    page.wait_for_selector("#confirm-action")
    assert "¥1,234.56" in page.inner_text("#action-summary")
    page.fill("#id_reason", "与月度上解通知核对一致")
    page.click("#confirm-action")
    page.wait_for_selector("ul.messagelist")
    transfer.refresh_from_db()
    assert (transfer.state, transfer.approved_by.username) == (Transfer.State.POSTED, "sh-checker")
    assert AuditEvent.objects.get(action="transfer.posted", object_id=str(transfer.pk)).reason == "与月度上解通知核对一致"
    assert "与月度上解通知核对一致" in page.inner_text("#timeline")
    screenshot(page, "transfer-detail-posted")

    # The fund balances chart now shows ¥3,765.44 for the province.
    page = browser.open("/admin/pooling/fundaccount/overview/")
    assert _chart_balance(page, str(provincial)) == 3765.44
    assert _chart_balance(page, str(national)) == 1234.56
