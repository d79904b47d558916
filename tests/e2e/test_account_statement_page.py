"""An account's statement in a real browser, as a province's finance checker: from the staff
home to the chooser (her province's accounts only), then the statement of the provincial fund
with its opening balance, entries by counterpart account name, running and closing balance in
yuan, the admin header with logout, within 1,280 px, and the CSV the page links to."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from apps.pooling import services
from apps.pooling.models import FundAccount
from tests.pooling.conftest import SC, SH, People, account, ensure_ledger, fund, key

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SHOTS = Path("/tmp/i18n17b-shots")  # screenshots to look at, never committed
PAGE_WIDTH = "() => document.documentElement.scrollWidth"


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_a_finance_checker_reads_her_provincial_funds_statement_from_the_staff_home(staff_browser):
    ensure_ledger()
    people = People()
    provincial, national = account("provincial", SH), account("national")
    fund(provincial, 5_000_00, people)
    transfer = services.transfer_propose(
        from_account=provincial,
        to_account=national,
        amount_fen=1_234_56,
        memo="上解调剂金",
        proposer=people.sh_maker,
        idempotency_key=key(),
    )
    services.transfer_approve(transfer=transfer, approver=people.sh_checker, reason="核对一致")
    browser = staff_browser
    browser.page.set_viewport_size({"width": 1280, "height": 900})
    browser.log_in("sh-checker")

    page = browser.open("/staff/")
    page.click("#staff-pages a[href$='/staff/statements/']")
    page.wait_for_selector("#statement-form")
    offered = page.eval_on_selector_all("#id_account option[value]:not([value=''])", "els => els.map(e => Number(e.value))")
    own = set(FundAccount.objects.filter(province__code=SH).values_list("pk", flat=True))
    assert (set(offered) <= own, provincial.pk in offered, national.pk in offered) == (True, True, False)
    assert not set(offered) & set(FundAccount.objects.filter(province__code=SC).values_list("pk", flat=True))

    page.select_option("#id_account", str(provincial.pk))
    page.click("#statement-form [type=submit]")
    page.wait_for_selector("#statement-table")
    rows = page.locator("#statement-table tbody tr.statement-entry")
    assert (page.inner_text("#statement-opening"), page.inner_text("#statement-closing"), rows.count()) == ("¥0.00", "¥3,765.44", 2)
    last = rows.nth(1).inner_text()
    assert all(text in last for text in (national.name, "上解调剂金", "-¥1,234.56", "¥3,765.44")), last
    assert "123456" not in page.inner_text("#statement-table")
    assert page.locator("#logout-form button").count() == 1  # the admin header, with logout
    assert page.evaluate(PAGE_WIDTH) <= 1280
    _shot(page, "account-statement")

    csv = page.request.get(browser.base_url + page.get_attribute("#statement-csv", "href"))
    assert (csv.status, csv.headers["content-type"].startswith("text/csv"), "-123456" in csv.text()) == (200, True, True)
    pdf = page.request.get(browser.base_url + page.get_attribute("#statement-pdf", "href"))
    assert (pdf.status, pdf.body()[:4]) == (200, b"%PDF")

    # The account's own admin page links to the same statement.
    page = browser.open(f"/admin/pooling/fundaccount/{provincial.pk}/change/")
    page.click("a.statement-link")
    page.wait_for_selector("#statement-table")
    assert page.inner_text("#statement-closing") == "¥3,765.44"
    assert dt.date.today().replace(day=1).isoformat() == page.input_value("#id_from")
