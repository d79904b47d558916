"""Limits that hold before the work starts: uploads above IMPORT_MAX_BYTES are refused while
they stream in (413 request_too_large, nothing stored), nrdl-json is read as a stream with a
depth bound, and XLSX has row, column and unpacked-size limits with defusedxml parsing its XML."""

from __future__ import annotations

import datetime as dt
import io
import json
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.test import Client

from apps.benefits.models import Province
from apps.catalog.importers import formats
from apps.catalog.importers.services import release_import
from apps.core.bulk import BulkFileRejected
from apps.core.models import Job
from apps.core.roles import Role
from tests.factories import draft_release, staff

pytestmark = pytest.mark.django_db

LIMIT = 100_000
WRITTEN: list[int] = []  # bytes the temporary-file handler behind the limit wrote, per upload


class CountingTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Django's temporary-file handler, recording how many bytes reached the disk."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        WRITTEN.append(0)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        WRITTEN[-1] += len(raw_data)
        super().receive_data_chunk(raw_data, start)


@pytest.fixture
def limit(settings: Any) -> int:
    settings.IMPORT_MAX_BYTES = LIMIT
    return LIMIT


@pytest.fixture
def draft(catalog_admin: Any) -> Any:
    return draft_release(label="2026.08", effective_from=dt.date(2026, 8, 1), user=catalog_admin)


def stored_uploads() -> set[Path]:
    root = Path(settings.MEDIA_ROOT) / "jobs"
    return set(root.rglob("*")) if root.exists() else set()


def catalog_upload(api: Any, user: Any, draft: Any, size: int) -> Any:
    content = b"code,name,category\n" + b"x" * (size - 19)
    payload = {"file": SimpleUploadedFile("items.csv", content, content_type="text/csv"), "format": "canonical-csv"}
    return api(user).post(f"/api/v1/releases/{draft.label}/imports/", payload, format="multipart")


# --- IMPORT_MAX_BYTES -------------------------------------------------------------------------


def test_a_catalog_upload_over_the_limit_is_413_and_neither_a_job_nor_a_file_is_stored(api, catalog_admin, draft, limit):
    before = stored_uploads()
    response = catalog_upload(api, catalog_admin, draft, LIMIT + 30_000)  # within the form allowance: refused while streaming
    assert (response.status_code, response.json()["code"]) == (413, "request_too_large")
    assert (Job.objects.count(), stored_uploads() - before) == (0, set())


def test_a_catalog_upload_declared_far_over_the_limit_is_413_before_it_is_read(api, catalog_admin, draft, limit):
    response = catalog_upload(api, catalog_admin, draft, 3 * LIMIT)
    assert (response.status_code, response.json()["code"], Job.objects.count()) == (413, "request_too_large", 0)


def test_an_upload_at_the_limit_is_accepted(api, catalog_admin, draft, limit):
    assert catalog_upload(api, catalog_admin, draft, LIMIT).status_code == 202


def test_a_settlement_upload_over_the_limit_is_413_and_no_job_is_queued(api, limit):
    Province.objects.get_or_create(code="310000", defaults={"name": "上海市"})
    maker = staff(Role.FINANCE_MAKER, "310000", username="limit-maker")
    payload = {"file": SimpleUploadedFile("s.csv", b"x" * (LIMIT + 1), content_type="text/csv"), "side": "destination", "period": "2026-03"}
    response = api(maker).post("/api/v1/settlements/imports/", payload, format="multipart")
    assert (response.status_code, response.json()["code"], Job.objects.count()) == (413, "request_too_large", 0)


def test_the_admin_upload_form_answers_413_over_the_limit(catalog_admin, draft, limit):
    client = Client()
    client.force_login(catalog_admin)
    url = f"/admin/catalog/catalogrelease/{draft.pk}/import/"
    response = client.post(url, {"file": SimpleUploadedFile("items.csv", b"x" * (LIMIT + 1)), "format": "canonical-csv"})
    assert (response.status_code, Job.objects.count()) == (413, 0)


def test_nothing_past_the_limit_reaches_the_disk(api, catalog_admin, draft, limit, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # every upload goes to a temporary file
    settings.FILE_UPLOAD_HANDLERS = [
        "apps.core.uploads.LimitedUploadHandler",
        "tests.reliability.test_upload_limits.CountingTemporaryFileUploadHandler",
    ]
    WRITTEN.clear()
    assert catalog_upload(api, catalog_admin, draft, LIMIT + 60_000).status_code == 413
    assert len(WRITTEN) == 1
    assert 0 < WRITTEN[0] <= LIMIT


def test_the_default_limit_leaves_room_for_the_100_mb_files_the_suite_imports():
    assert settings.IMPORT_MAX_BYTES >= 200 * 1024 * 1024


# --- nrdl-json: streaming, depth-bounded -------------------------------------------------------


def nrdl(*medicines: dict[str, Any], leaf: str = "XA02BC") -> bytes:
    return json.dumps(
        {"categories": [{"code": "XA", "children": [{"code": leaf, "medicines": list(medicines)}]}]}, ensure_ascii=False
    ).encode()


def test_a_json_file_nested_100000_deep_is_a_row_error_not_a_recursion_error(draft, catalog_admin):
    deep = b'{"categories": [{"code": "XA", "medicines": [{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]}]}"
    with pytest.raises(BulkFileRejected) as refused:
        release_import(release=draft, file=io.BytesIO(deep), fmt="nrdl-json", user=catalog_admin)
    assert [(e["line"], e["code"]) for e in refused.value.errors] == [(1, "malformed_row")]
    assert "nested deeper than" in refused.value.errors[0]["message"]


def test_nrdl_json_is_read_as_a_stream_in_flat_memory(tmp_path):
    medicine = {"code": "XA02BCA211A001010101445", "name": "奥美拉唑肠溶胶囊" * 8, "category": "甲", "restriction": "限" * 120}
    path = tmp_path / "nrdl.json"
    with path.open("wb") as out:
        out.write(b'{"categories": [{"code": "XA", "children": [{"code": "XA02BC", "medicines": [')
        row = json.dumps(medicine, ensure_ascii=False).encode()
        count = 40 * 1024 * 1024 // len(row)
        out.write(b",".join([row] * count))
        out.write(b"]}]}]}")
    tracemalloc.start()
    try:
        with path.open("rb") as file:
            seen = sum(1 for _ in formats.nrdl_rows(file))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"nrdl-json 40 MB: {seen} medicines, Python peak {peak / 2**20:.1f} MiB")
    assert seen == count
    assert peak < 8 * 1024 * 1024


def test_a_node_code_after_its_medicines_still_files_them_under_it():
    data = b'[{"medicines": [{"code": "XA02BCA211A001010101445", "name": "x", "category": "01"}], "code": "XA02BC"}]'
    assert [values["classification"] for _line, values in formats.nrdl_rows(io.BytesIO(data))] == ["XA02BC"]


def test_gb18030_nrdl_json_is_read():
    data = json.dumps(
        [{"code": "XA02BC", "medicines": [{"code": "XA02BCA211A001010101445", "name": "奥美拉唑", "category": "甲"}]}], ensure_ascii=False
    )
    assert [values["name"] for _line, values in formats.nrdl_rows(io.BytesIO(data.encode("gb18030")))] == ["奥美拉唑"]


def test_truncated_json_is_a_row_error_naming_the_record_it_stops_in():
    data = nrdl({"code": "XA02BCA211A001010101445", "name": "x", "category": "01"})[:-10]
    with pytest.raises(BulkFileRejected) as refused:
        list(formats.nrdl_rows(io.BytesIO(data)))
    assert (refused.value.errors[0]["line"], refused.value.errors[0]["code"]) == (1, "malformed_row")


# --- XLSX ------------------------------------------------------------------------------------------


def workbook(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


GOOD_ROWS = [["code", "name", "category"], ["XA02BCA211A001010101445", "奥美拉唑肠溶胶囊", "01"]]


def with_part(data: bytes, name: str, content: bytes, *, replace: bool = False) -> bytes:
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if not (replace and info.filename == name):
                target.writestr(info, source.read(info.filename))
        target.writestr(name, content)
    return out.getvalue()


def xlsx_refusal(data: bytes) -> tuple[int, str]:
    with pytest.raises(BulkFileRejected) as refused:
        _header, rows = formats.xlsx_rows(io.BytesIO(data))
        list(rows)
    return refused.value.errors[0]["line"], refused.value.errors[0]["code"]


def test_openpyxl_parses_workbooks_with_defusedxml():
    assert openpyxl.DEFUSEDXML is True


def test_a_zip_bomb_is_refused_before_openpyxl_unpacks_it(settings):
    settings.XLSX_MAX_UNCOMPRESSED_BYTES = 8 * 1024 * 1024
    bomb = with_part(workbook(GOOD_ROWS), "xl/media/padding.bin", b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros, ~64 KB packed
    assert len(bomb) < 1024 * 1024
    assert xlsx_refusal(bomb) == (0, "file_too_large")


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    b'<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
)


def without_declaration(xml: bytes) -> bytes:
    return xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml


def test_a_billion_laughs_sheet_is_refused():
    data = workbook(GOOD_ROWS)
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    sheet = LAUGHS + without_declaration(sheet).replace(b"<v>", b"<v>&lol9;", 1)
    assert xlsx_refusal(with_part(data, "xl/worksheets/sheet1.xml", sheet, replace=True))[1] == "xml_forbidden"


def test_a_billion_laughs_workbook_part_is_refused():
    data = workbook(GOOD_ROWS)
    part = zipfile.ZipFile(io.BytesIO(data)).read("xl/workbook.xml")
    part = LAUGHS + without_declaration(part)
    assert xlsx_refusal(with_part(data, "xl/workbook.xml", part, replace=True)) == (0, "xml_forbidden")


def test_a_sheet_with_more_rows_than_the_limit_is_refused_on_the_first_row_past_it(settings):
    settings.XLSX_MAX_ROWS = 5
    rows = [GOOD_ROWS[0]] + [[f"XA02BCA211A00101010{n:04d}", "x", "01"] for n in range(8)]
    assert xlsx_refusal(workbook(rows)) == (7, "too_many_rows")


def test_a_sheet_wider_than_the_column_limit_is_refused_on_its_header(settings):
    settings.XLSX_MAX_COLUMNS = 5
    rows = [GOOD_ROWS[0] + [f"extra{n}" for n in range(4)], GOOD_ROWS[1]]
    assert xlsx_refusal(workbook(rows)) == (1, "too_many_columns")


def test_a_workbook_within_the_limits_is_read():
    header, rows = formats.xlsx_rows(io.BytesIO(workbook(GOOD_ROWS)))
    assert (header, [cells for _line, cells in rows]) == (GOOD_ROWS[0], [GOOD_ROWS[1]])
