"""Bad input corpus for the settlements importer (POST /api/v1/settlements/imports/): each case
is refused with a clear error naming line/column/code, and nothing is written (no batch, no record).
The job runs eagerly at commit, as a worker would run it."""

from __future__ import annotations

import codecs
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.benefits.models import Province
from apps.core.models import Job
from apps.core.roles import Role
from apps.reconciliation.models import SettlementBatch, SettlementRecord
from tests.factories import staff

pytestmark = pytest.mark.django_db

HEADER = "settlement_id,home_province,destination_province,hospital_code,patient_id_hash,date_of_service,release_label,drg_group,total_fen,fund_fen,patient_fen"
GOOD = "S1,510000,310000,H310000001,ph1,2026-03-10,2026.03,DRG1,10000,7000,3000"


@pytest.fixture
def maker(db: Any) -> Any:
    for code, name in (("310000", "上海市"), ("510000", "四川省")):
        Province.objects.get_or_create(code=code, defaults={"name": name})
    return staff(Role.FINANCE_MAKER, "310000", username="sh-maker")


def post(api: Any, maker: Any, capture: Any, content: bytes, *, period: str = "2026-03") -> tuple[Any, dict[str, Any]]:
    payload = {"file": SimpleUploadedFile("settled.csv", content, content_type="text/csv"), "side": "destination", "period": period}
    with capture(execute=True):
        response = api(maker).post("/api/v1/settlements/imports/", payload, format="multipart")
    job = Job.objects.filter(pk=response.json()["job"]["id"]).values().first() if response.status_code == 202 else {}
    return response, job or {}


def written() -> tuple[int, int]:
    return SettlementBatch.objects.count(), SettlementRecord.objects.count()


def first_error(job: dict[str, Any]) -> tuple[str, Any, Any, Any]:
    error = job["errors"][0]
    return job["state"], error.get("line"), error.get("column"), error.get("code")


def csv(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def test_a_good_file_is_imported(api, maker, django_capture_on_commit_callbacks):
    _, job = post(api, maker, django_capture_on_commit_callbacks, csv(GOOD))
    assert (job["state"], written()) == ("succeeded", (1, 1))


def test_utf16_file_is_an_encoding_error(api, maker, django_capture_on_commit_callbacks):
    _, job = post(api, maker, django_capture_on_commit_callbacks, csv(GOOD).decode().encode("utf-16"))
    assert (job["state"], job["errors"][0]["code"], written()) == ("failed", "encoding", (0, 0))


def test_latin1_bytes_in_a_row_are_an_encoding_error_on_that_line(api, maker, django_capture_on_commit_callbacks):
    content = csv(GOOD) + "S2,510000,310000,H310000001,ph\xe9\xff,2026-03-10,2026.03,DRG1,10000,7000,3000\n".encode("latin-1")
    _, job = post(api, maker, django_capture_on_commit_callbacks, content)
    assert (first_error(job)[0], first_error(job)[3], written()) == ("failed", "encoding", (0, 0))


def test_utf8_bom_is_read_as_the_header_not_as_an_unknown_column(api, maker, django_capture_on_commit_callbacks):
    _, job = post(api, maker, django_capture_on_commit_callbacks, codecs.BOM_UTF8 + csv(GOOD))
    assert (job["state"], written()) == ("succeeded", (1, 1))


def test_full_width_digits_in_money_are_not_fen(api, maker, django_capture_on_commit_callbacks):
    row = "S1,510000,310000,H310000001,ph1,2026-03-10,2026.03,DRG1,１００００,7000,3000"
    _, job = post(api, maker, django_capture_on_commit_callbacks, csv(row))
    assert (first_error(job), written()) == (("failed", 2, "total_fen", "not_fen"), (0, 0))


def test_full_width_province_code_is_a_code_format_error(api, maker, django_capture_on_commit_callbacks):
    row = "S1,５１００００,310000,H310000001,ph1,2026-03-10,2026.03,DRG1,10000,7000,3000"
    _, job = post(api, maker, django_capture_on_commit_callbacks, csv(row))
    assert (first_error(job), written()) == (("failed", 2, "home_province", "code_format"), (0, 0))


def test_missing_column_is_refused_naming_it(api, maker, django_capture_on_commit_callbacks):
    header = HEADER.replace(",patient_fen", "")
    _, job = post(api, maker, django_capture_on_commit_callbacks, csv(GOOD.rsplit(",", 1)[0], header=header))
    assert (first_error(job), written()) == (("failed", 1, "patient_fen", "missing_field"), (0, 0))


def test_extra_column_is_refused_naming_it(api, maker, django_capture_on_commit_callbacks):
    _, job = post(api, maker, django_capture_on_commit_callbacks, csv(GOOD + ",x", header=HEADER + ",comment"))
    assert (first_error(job), written()) == (("failed", 1, "comment", "unknown_column"), (0, 0))


def test_wrong_columns_of_another_layout_are_refused(api, maker, django_capture_on_commit_callbacks):
    _, job = post(api, maker, django_capture_on_commit_callbacks, csv("X,1,01", header="code,name,category"))
    assert (job["state"], {e["code"] for e in job["errors"]} >= {"unknown_column", "missing_field"}, written()) == ("failed", True, (0, 0))


def test_row_with_more_cells_than_the_header_is_refused(api, maker, django_capture_on_commit_callbacks):
    _, job = post(api, maker, django_capture_on_commit_callbacks, csv(GOOD + ",extra"))
    assert (job["state"], job["errors"][0]["line"], written()) == ("failed", 2, (0, 0))


def test_row_with_ten_thousand_columns_is_refused(api, maker, django_capture_on_commit_callbacks):
    _, job = post(api, maker, django_capture_on_commit_callbacks, csv(GOOD + "," * 9_989))
    assert (job["state"], job["errors"][0]["line"], written()) == ("failed", 2, (0, 0))


@pytest.mark.parametrize(
    ("column", "value", "code"),
    [
        ("total_fen", "-10000", "not_fen"),
        ("total_fen", "100.5", "not_fen"),
        ("total_fen", "1e4", "not_fen"),
        ("total_fen", "9223372036854775808", "not_fen"),
        ("fund_fen", "99999999999999999999999", "not_fen"),
        ("patient_fen", "-0", "not_fen"),
        ("total_fen", "10001", "amounts_disagree"),
    ],
)
def test_bad_money_is_refused(api, maker, django_capture_on_commit_callbacks, column, value, code):
    cells = dict(zip(HEADER.split(","), GOOD.split(","), strict=True))
    cells[column] = value
    _, job = post(api, maker, django_capture_on_commit_callbacks, csv(",".join(cells.values())))
    assert (first_error(job), written()) == (("failed", 2, column, code), (0, 0))


@pytest.mark.parametrize("value", ["2026-02-30", "2026-13-01", "0000-01-01", "0000-00-00", "26-03-10", "2026/03/10", "99999-01-01"])
def test_dates_out_of_range_are_date_format_errors(api, maker, django_capture_on_commit_callbacks, value):
    row = GOOD.replace("2026-03-10", value)
    _, job = post(api, maker, django_capture_on_commit_callbacks, csv(row))
    assert (first_error(job), written()) == (("failed", 2, "date_of_service", "date_format"), (0, 0))


def test_cyrillic_look_alike_in_a_province_code_is_a_code_format_error(api, maker, django_capture_on_commit_callbacks):
    row = GOOD.replace("510000", "51ОООО", 1)  # Cyrillic О, not zero
    _, job = post(api, maker, django_capture_on_commit_callbacks, csv(row))
    assert (first_error(job), written()) == (("failed", 2, "home_province", "code_format"), (0, 0))


def test_six_digit_code_that_is_not_a_province_is_unknown_province(api, maker, django_capture_on_commit_callbacks):
    row = GOOD.replace("510000", "999999", 1)
    _, job = post(api, maker, django_capture_on_commit_callbacks, csv(row))
    assert (first_error(job), written()) == (("failed", 2, "home_province", "unknown_province"), (0, 0))


def test_bad_period_is_refused_at_request_time(api, maker, django_capture_on_commit_callbacks):
    response, _ = post(api, maker, django_capture_on_commit_callbacks, csv(GOOD), period="2026-13")
    assert (response.status_code, response.json()["code"], written()) == (400, "validation_error", (0, 0))
