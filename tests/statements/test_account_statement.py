"""Account statements (issue 18): opening balance, entries and closing balance over whole days of
the portal's time zone, as JSON, CSV and a PDF whose extracted text carries the same figures."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo

import pytest
import time_machine
from pypdf import PdfReader

from apps.pooling import services
from tests.factories import staff
from tests.pooling.conftest import SC, SH, account, fund, key

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def _pay(people, amount_fen: int, memo: str) -> None:
    transfer = services.transfer_propose(
        from_account=account("provincial", SH),
        to_account=account("national"),
        amount_fen=amount_fen,
        memo=memo,
        proposer=people.sh_maker,
        idempotency_key=key(),
    )
    services.transfer_approve(transfer=transfer, approver=people.sh_checker)


@pytest.fixture
def march(people):
    """Shanghai's fund: ¥5,000.00 in on 28 Feb, ¥1,234.56 out on 3 Mar, ¥100.01 out on 31 Mar
    23:30 (still March in Shanghai), ¥7.00 out on 1 Apr."""
    with time_machine.travel(dt.datetime(2026, 2, 28, 10, tzinfo=SHANGHAI), tick=False):
        fund(account("provincial", SH), 5_000_00, people)
    with time_machine.travel(dt.datetime(2026, 3, 3, 9, tzinfo=SHANGHAI), tick=False):
        _pay(people, 1_234_56, "三月调剂 first")
    with time_machine.travel(dt.datetime(2026, 3, 31, 23, 30, tzinfo=SHANGHAI), tick=False):
        _pay(people, 100_01, "late March")
    with time_machine.travel(dt.datetime(2026, 4, 1, 8, tzinfo=SHANGHAI), tick=False):
        _pay(people, 7_00, "April")
    return account("provincial", SH)


def _url(acc, **params):
    query = "&".join(f"{k}={v}" for k, v in {"from": "2026-03-01", "to": "2026-03-31", **params}.items())
    return f"/api/v1/accounts/{acc.pk}/statement/?{query}"


def test_march_statement_opens_with_february_and_closes_with_march(api, people, march):
    body = api(people.sh_maker).get(_url(march)).json()
    assert (body["opening_balance_fen"], [e["amount_fen"] for e in body["entries"]], body["closing_balance_fen"]) == (
        5_000_00,
        [-1_234_56, -100_01],
        5_000_00 - 1_234_56 - 100_01,
    )


def test_each_entry_carries_its_running_balance_memo_and_counterpart(api, people, march):
    entries = api(people.sh_maker).get(_url(march)).json()["entries"]
    national = account("national").pk
    assert [(e["balance_fen"], e["memo"], e["counterpart_account"]) for e in entries] == [
        (5_000_00 - 1_234_56, "三月调剂 first", national),
        (5_000_00 - 1_234_56 - 100_01, "late March", national),
    ]


def test_closing_balance_of_a_range_up_to_today_is_the_account_balance(api, people, march):
    body = api(people.sh_maker).get(_url(march, to="2026-04-30")).json()
    march.refresh_from_db()
    assert body["closing_balance_fen"] == march.balance_fen


def test_csv_has_an_opening_row_each_entry_and_a_closing_row(api, people, march):
    response = api(people.sh_maker).get(_url(march, format="csv"))
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert response["Content-Type"].startswith("text/csv")
    assert [(r["row"], r["amount_fen"], r["balance_fen"]) for r in rows] == [
        ("opening", "", "500000"),
        ("entry", "-123456", "376544"),
        ("entry", "-10001", "366543"),
        ("closing", "", "366543"),
    ]


def test_pdf_text_holds_the_figures_in_yuan_with_chinese_labels(api, people, march):
    response = api(people.sh_maker).get(_url(march, format="pdf"))
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    for figure in ("¥5,000.00", "-¥1,234.56", "¥3,765.44", "-¥100.01", "¥3,665.43", "期初余额", "期末余额", "三月调剂"):
        assert figure in text, figure
    assert "¥7.00" not in text


def test_a_range_of_more_than_a_year_is_refused_with_a_reason(api, people, march):
    response = api(people.sh_maker).get(_url(march, **{"from": "2025-02-01", "to": "2026-03-01"}))
    body = response.json()
    assert (response.status_code, body["code"], body["errors"][0]["code"]) == (400, "validation_error", "range_too_long")


def test_a_reversed_range_is_refused(api, people, march):
    response = api(people.sh_maker).get(_url(march, **{"from": "2026-03-31", "to": "2026-03-01"}))
    assert (response.status_code, response.json()["errors"][0]["code"]) == (400, "range_reversed")


def test_missing_dates_are_a_validation_error(api, people, march):
    response = api(people.sh_maker).get(f"/api/v1/accounts/{march.pk}/statement/")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")


def test_another_provinces_account_is_not_found_for_a_province_bound_reader(api, people, march):
    response = api(people.sc_maker).get(_url(march))
    assert response.status_code == 404


def test_the_national_funds_statement_is_not_for_province_bound_readers(api, people, march):
    response = api(people.sh_maker).get(_url(account("national")))
    assert response.status_code == 404


def test_national_finance_reads_any_accounts_statement(api, people, march):
    reader = staff("finance_checker", "", username="national-reader")
    assert api(reader).get(_url(account("national"))).json()["closing_balance_fen"] == 1_234_56 + 100_01


def test_catalog_roles_are_refused_with_403(api, people, march):
    response = api(staff("catalog_admin", "", username="cat-admin")).get(_url(march))
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_sichuan_staff_read_their_own_account(api, people, march):
    fund(account("provincial", SC), 10_00, people)
    reader = staff("province_staff", SC, username="sc-staff")
    assert (
        api(reader).get(_url(account("provincial", SC), to="2030-12-31", **{"from": "2030-01-01"})).json()["opening_balance_fen"] == 10_00
    )
