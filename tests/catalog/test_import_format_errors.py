"""A file sent under the wrong format is one `format` error naming the format it looks like;
progress counts rows, not bytes."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest

from apps.catalog.importers.services import release_import
from apps.core.bulk import BulkFileRejected
from tests.factories import draft_release

pytestmark = pytest.mark.django_db

CSV = "code,name,category\nXA02BCA211A001010101445,奥美拉唑肠溶胶囊,01\nXA10BAE047A010010100483,二甲双胍,01\n".encode()
JSON = json.dumps(
    {"categories": [{"code": "XA", "medicines": [{"code": "XA02BCA211A001010101445", "name": "奥美拉唑", "category": "甲"}]}]}
).encode()


def _xlsx() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["code", "name", "category"])
    book.active.append(["XA02BCA211A001010101445", "奥美拉唑肠溶胶囊", "01"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def draft(catalog_admin):
    return draft_release(label="2026.10", effective_from=dt.date(2026, 10, 1), user=catalog_admin)


def _refusal(draft, user, data: bytes, fmt: str) -> tuple[str, str]:
    with pytest.raises(BulkFileRejected) as err:
        release_import(release=draft, file=io.BytesIO(data), fmt=fmt, user=user)
    (error,) = err.value.errors
    return error["code"], error["message"]


@pytest.mark.parametrize(
    ("data", "fmt", "names"),
    [
        (_xlsx(), "canonical-csv", "xlsx"),
        (_xlsx(), "nrdl-json", "xlsx"),
        (JSON, "canonical-csv", "nrdl-json"),
        (CSV, "nrdl-json", "CSV"),
        (CSV, "xlsx", "XLSX"),
        (JSON, "xlsx", "nrdl-json"),
        (CSV, "nhsa-consumables-csv", "canonical-csv"),
        (b"%PDF-1.7\n...", "canonical-csv", "PDF"),
    ],
    ids=["xlsx-as-csv", "xlsx-as-json", "json-as-csv", "csv-as-json", "csv-as-xlsx", "json-as-xlsx", "canonical-as-nhsa", "pdf-as-csv"],
)
def test_a_file_sent_as_another_format_is_one_format_error_naming_what_it_is(draft, catalog_admin, data, fmt, names):
    code, message = _refusal(draft, catalog_admin, data, fmt)
    assert (code, names in message) == ("format", True)


def test_bytes_in_no_accepted_encoding_are_still_an_encoding_error(draft, catalog_admin):
    data = b"code,name,category\n" + "XA02BCA211A001010101445,奥美拉唑,01\n".encode("utf-16-le")
    assert _refusal(draft, catalog_admin, data, "canonical-csv")[0] == "encoding"


@pytest.mark.parametrize(("data", "fmt"), [(CSV, "canonical-csv"), (_xlsx(), "xlsx"), (JSON, "nrdl-json")], ids=["csv", "xlsx", "json"])
def test_progress_ends_at_the_number_of_rows(draft, catalog_admin, data, fmt):
    seen: list[int] = []
    result = release_import(release=draft, file=io.BytesIO(data), fmt=fmt, user=catalog_admin, on_progress=seen.append)
    assert (seen[-1], result["rows"], max(seen) <= result["rows"]) == (result["rows"], result["rows"], True)
