"""Maker-checker in a real browser: a finance maker proposes a transfer in admin, a checker of
the same province approves it, and the fund balances chart shows the new balance."""

from __future__ import annotations

from typing import Any

import pytest

from apps.pooling.models import Transfer
from tests.pooling.conftest import SH, People, account, ensure_ledger, fund

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CHART_DATA = """() => {
  const chart = Chart.getChart(document.getElementById("fund-chart"));
  return {labels: chart.data.labels, balances: chart.data.datasets[0].data};
}"""


def _chart_balance(page: Any, label: str) -> float:
    """The balance bar (yuan) that the drawn Chart.js chart shows for ``label``."""
    page.wait_for_selector("#fund-chart[data-chart-ready]")
    data = page.evaluate(CHART_DATA)
    return float(data["balances"][data["labels"].index(label)])


def test_proposed_transfer_approved_by_a_second_checker_changes_the_balance_chart(staff_browser):
    ensure_ledger()
    people = People()
    provincial, national = account("provincial", SH), account("national")
    fund(provincial, 1_000_00, people)
    browser = staff_browser

    # The maker sees ¥1,000 on the chart and proposes moving ¥250 to the national fund.
    browser.log_in("sh-maker")
    page = browser.open("/admin/pooling/fundaccount/overview/")
    assert _chart_balance(page, str(provincial)) == 1000.0
    page = browser.open("/admin/pooling/transfer/add/")
    page.select_option("#id_from_account", str(provincial.pk))
    page.select_option("#id_to_account", str(national.pk))
    page.fill("#id_amount_fen", "25000")
    page.fill("#id_memo", "上解调剂金")
    page.click("input[name=_save]")
    page.wait_for_selector("#result_list")
    transfer = Transfer.objects.get(memo="上解调剂金")
    assert transfer.state == Transfer.State.PROPOSED
    browser.log_out()

    # A checker of the same province approves it with the admin action.
    browser.log_in("sh-checker")
    page = browser.open("/admin/pooling/transfer/?state__exact=proposed")
    page.check(f"input[name=_selected_action][value='{transfer.pk}']")
    page.select_option("select[name=action]", "approve")
    page.click("button[name=index]")
    page.wait_for_selector("ul.messagelist")
    transfer.refresh_from_db()
    assert transfer.state == Transfer.State.POSTED and transfer.approved_by.username == "sh-checker"

    # The fund balances chart now shows ¥750 for the province.
    page = browser.open("/admin/pooling/fundaccount/overview/")
    assert _chart_balance(page, str(provincial)) == 750.0
    assert _chart_balance(page, str(national)) == 250.0
    browser.shot("fund-balances-after-approval")
