"""Bad input corpus for the catalog importer (POST /api/v1/releases/{label}/imports/): each case
ends in a failed job whose errors name line, column and a stable code, and the draft keeps exactly
what it had (items and history). The job runs eagerly at commit, as a worker would run it."""

from __future__ import annotations

import codecs
import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.catalog.models import CatalogItem
from apps.core.models import Job
from tests.factories import draft_release

pytestmark = pytest.mark.django_db

HEADER = "code,name,category"
EXISTING = {"code": "001102000010000", "name": "一般诊疗费", "category": "01"}
GOOD = "XA02BCA211A001010101445,奥美拉唑肠溶胶囊,01"


@pytest.fixture
def draft(catalog_admin: Any) -> Any:
    return draft_release(label="2026.07", effective_from=dt.date(2026, 7, 1), user=catalog_admin, items=[EXISTING])


def state(draft: Any) -> tuple[list[tuple[str, str]], int]:
    items = list(CatalogItem.objects.filter(release=draft).order_by("code").values_list("code", "name"))
    return items, CatalogItem.history.count()


def post(api: Any, user: Any, draft: Any, capture: Any, content: bytes, fmt: str = "canonical-csv") -> dict[str, Any]:
    payload = {"file": SimpleUploadedFile("items.csv", content, content_type="text/csv"), "format": fmt}
    with capture(execute=True):
        response = api(user).post(f"/api/v1/releases/{draft.label}/imports/", payload, format="multipart")
    assert response.status_code == 202, response.content
    return Job.objects.filter(pk=response.json()["job"]["id"]).values("state", "errors", "error_count", "result").get()


def csv(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def refused(api, catalog_admin, draft, capture, content, fmt="canonical-csv"):
    """(job state, first error as (line, column, code), draft unchanged?)"""
    before = state(draft)
    job = post(api, catalog_admin, draft, capture, content, fmt)
    first = job["errors"][0] if job["errors"] else {}
    return job["state"], (first.get("line"), first.get("column"), first.get("code")), state(draft) == before


def test_a_good_file_is_imported(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    job = post(api, catalog_admin, draft, django_capture_on_commit_callbacks, csv(GOOD))
    assert (job["state"], len(state(draft)[0])) == ("succeeded", 2)


def test_utf16_file_is_an_encoding_error(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    content = csv(GOOD).decode().encode("utf-16")
    assert refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, content)[::2] == ("failed", True)
    assert post(api, catalog_admin, draft, django_capture_on_commit_callbacks, content)["errors"][0]["code"] == "encoding"


def test_bytes_valid_in_no_accepted_encoding_are_an_encoding_error_on_their_line(
    api, catalog_admin, draft, django_capture_on_commit_callbacks
):
    content = csv(GOOD) + b"XA10BAE047A010010100483,\xff\xfe\xff,01\n"
    assert refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, content) == ("failed", (3, "", "encoding"), True)


def test_utf16_bom_is_an_encoding_error_not_a_garbled_header(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    content = codecs.BOM_UTF16_LE + csv(GOOD).decode().encode("utf-16-le")
    outcome = refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, content)
    assert (outcome[0], outcome[1][2], outcome[2]) == ("failed", "encoding", True)


def test_a_byte_order_mark_in_the_middle_of_the_file_is_a_code_format_error(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    content = csv(GOOD, "\ufeffXA10BAE047A010010100483,二甲双胍,01")  # two files pasted together
    assert refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, content) == ("failed", (3, "code", "code_format"), True)


def test_the_same_code_in_full_and_half_width_is_a_duplicate(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    content = csv("００１２０３００００１００００,全角,01", "001203000010000,半角,01")
    assert refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, content) == (
        "failed",
        (3, "code", "duplicate_code"),
        True,
    )


def test_missing_required_column_is_refused(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    content = csv("XA02BCA211A001010101445,奥美拉唑肠溶胶囊", header="code,name")
    assert refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, content) == (
        "failed",
        (1, "category", "missing_field"),
        True,
    )


def test_extra_column_is_refused(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    content = csv(GOOD + ",x", header=HEADER + ",comment")
    assert refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, content) == (
        "failed",
        (1, "comment", "unknown_column"),
        True,
    )


def test_header_of_another_layout_is_refused(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    content = csv(GOOD, header="id,name,primary")
    outcome = refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, content)
    assert (outcome[0], outcome[1][0], outcome[2]) == ("failed", 1, True)


def test_wrong_format_for_the_file_is_refused(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    outcome = refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, csv(GOOD), fmt="nhsa-consumables-csv")
    assert (outcome[0], outcome[1][2], outcome[2]) == ("failed", "format", True)


def test_csv_sent_as_json_is_refused(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    outcome = refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, csv(GOOD), fmt="nrdl-json")
    assert (outcome[0], outcome[1][2], outcome[2]) == ("failed", "format", True)


def test_csv_sent_as_xlsx_is_refused(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    outcome = refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, csv(GOOD), fmt="xlsx")
    assert (outcome[0], outcome[1][2], outcome[2]) == ("failed", "format", True)


def test_row_with_ten_thousand_columns_is_refused_on_its_line(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    content = csv(GOOD + "," * 9_997)
    outcome = refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, content)
    assert (outcome[0], outcome[1][0], outcome[2]) == ("failed", 2, True)


def test_header_with_ten_thousand_columns_is_refused(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    content = csv(GOOD + "," * 9_997, header=HEADER + "".join(f",c{i}" for i in range(9_997)))
    outcome = refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, content)
    assert (outcome[0], outcome[1][:2], outcome[2]) == ("failed", (1, "c0"), True)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("-100", "negative"),
        ("100.5", "float"),
        ("1e3", "exponent"),
        ("9223372036854775808", "overflows bigint"),
        ("１００", "full-width digits"),
    ],
)
def test_bad_payment_standard_is_refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, value, why):
    content = csv(GOOD + f",{value}", header=HEADER + ",payment_standard_fen")
    outcome = refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, content)
    assert (outcome[0], outcome[1][:2], outcome[2]) == ("failed", (2, "payment_standard_fen"), True), why


@pytest.mark.parametrize("value", ["-0.1", "1.5", "0.12345", "NaN", "Infinity", "1/2"])
def test_bad_self_pay_ratio_is_refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, value):
    content = csv(GOOD + f",{value}", header=HEADER + ",self_pay_ratio")
    outcome = refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, content)
    assert (outcome[0], outcome[1][:2], outcome[2]) == ("failed", (2, "self_pay_ratio"), True)


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("C0001010010100103941", "consumable class 00 (passes ^C\\d{19}$)"),
        ("C0100010010100103941", "consumable subclass 00"),
        ("X101ABD075A002010100483", "drug: digit where the classification has a letter (passes ^[XZ]\\w{22}$)"),
        ("XA01ABD075A00201010048", "drug: 22 characters"),
        ("001102000010000-1234567", "service: local suffix of 7 digits"),
        ("00110200001000", "service: 14 digits"),
        ("T12345678", "TCM piece: 9 characters"),
        ("Q01102000010000", "unknown prefix"),
    ],
)
def test_codes_that_pass_a_naive_regex_but_fail_the_rules_are_code_format_errors(
    api, catalog_admin, draft, django_capture_on_commit_callbacks, code, why
):
    content = csv(f"{code},名称,01")
    assert refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, content) == (
        "failed",
        (2, "code", "code_format"),
        True,
    ), why


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("ХA02BCA211A001010101445", "Cyrillic Х for X"),
        ("XΑ02BCA211A001010101445", "Greek Α for A"),
        ("С0101010010100103941", "Cyrillic С for C"),
        ("٠٠١١٠٢٠٠٠٠١٠٠٠٠", "Arabic-Indic digits"),
        ("00110200001000O", "Latin O for zero"),
    ],
)
def test_unicode_confusables_in_codes_are_code_format_errors(api, catalog_admin, draft, django_capture_on_commit_callbacks, code, why):
    content = csv(f"{code},名称,01")
    assert refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, content) == (
        "failed",
        (2, "code", "code_format"),
        True,
    ), why


def test_zero_width_space_inside_a_code_is_a_code_format_error(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    content = csv("001102000\u200b010000,名称,01")
    assert refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, content) == ("failed", (2, "code", "code_format"), True)


def test_empty_file_is_refused_at_request_time(api, catalog_admin, draft):
    before = state(draft)
    payload = {"file": SimpleUploadedFile("items.csv", b"", content_type="text/csv"), "format": "canonical-csv"}
    response = api(catalog_admin).post(f"/api/v1/releases/{draft.label}/imports/", payload, format="multipart")
    assert (response.status_code, response.json()["errors"][0]["field"], state(draft) == before) == (400, "file", True)


def test_header_only_file_changes_nothing(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    before = state(draft)
    job = post(api, catalog_admin, draft, django_capture_on_commit_callbacks, csv())
    assert (job["state"], job["result"].get("rows"), state(draft) == before) == ("succeeded", 0, True)


def test_name_longer_than_the_column_is_too_long(api, catalog_admin, draft, django_capture_on_commit_callbacks):
    content = csv("XA02BCA211A001010101445," + "名" * 5000 + ",01")
    assert refused(api, catalog_admin, draft, django_capture_on_commit_callbacks, content) == ("failed", (2, "name", "too_long"), True)
