"""Imports of whole files into a draft: every format, encodings, all-or-nothing, idempotency."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.catalog.importers.services import release_import
from apps.catalog.models import CatalogItem
from apps.core.bulk import BulkFileRejected
from tests.factories import draft_release

pytestmark = pytest.mark.django_db
DATA = Path(__file__).resolve().parent.parent / "data" / "catalog"
JAN_2026 = dt.date(2026, 1, 1)


@pytest.fixture
def draft(catalog_admin):
    return draft_release(label="2026.01", effective_from=JAN_2026, user=catalog_admin)


def run(release, user, name, fmt="canonical-csv", mode="merge"):
    with (DATA / name).open("rb") as file:
        return release_import(release=release, file=file, fmt=fmt, user=user, mode=mode, filename=name)


def codes(release):
    return list(CatalogItem.objects.filter(release=release).order_by("code").values_list("code", flat=True))


def test_canonical_csv_loads_every_row(draft, catalog_admin):
    result = run(draft, catalog_admin, "canonical.csv")
    assert (result["rows"], result["added"], len(codes(draft))) == (7, 7, 7)


def item(release, code):
    return CatalogItem.objects.get(release=release, code=code)


def rejected(release, user, name, fmt="canonical-csv", mode="merge"):
    with pytest.raises(BulkFileRejected) as err:
        run(release, user, name, fmt=fmt, mode=mode)
    return err.value


def errors_on(exc, line):
    return [(e["column"], e["code"]) for e in exc.errors if e["line"] == line]


def run_bytes(release, user, data, fmt="canonical-csv", mode="merge"):
    return release_import(release=release, file=io.BytesIO(data), fmt=fmt, user=user, mode=mode)


def test_kind_and_category_path_come_from_the_code(draft, catalog_admin):
    run(draft, catalog_admin, "canonical.csv")
    drug, consumable = item(draft, "XA02BCA211A001010101445"), item(draft, "C0101010010100104744")
    assert (drug.kind, drug.category_path, consumable.kind, consumable.category_path) == (
        "drug",
        "XA02BC",
        "consumable",
        "C01010100101001",
    )


def test_replaces_column_is_split_on_semicolons_and_numbers_are_typed(draft, catalog_admin):
    run(draft, catalog_admin, "canonical.csv")
    drug = item(draft, "XL01XCX238B002010182691")
    assert (drug.replaces, drug.payment_standard_fen, str(drug.self_pay_ratio), drug.restriction_max_days) == (
        ["XL01XCX238B002010100001"],
        108300,
        "0.1000",
        365,
    )


def test_quoted_field_spanning_two_lines_is_kept_whole(draft, catalog_admin):
    run(draft, catalog_admin, "canonical.csv")
    assert item(draft, "XL01XCX238B002010182691").restriction_text.count("\n") == 1


def _snapshot(release):
    return list(
        CatalogItem.objects.filter(release=release)
        .order_by("code")
        .values("code", *[f.name for f in CatalogItem._meta.fields if f.name not in ("id", "release")])
    )


def test_utf8_with_bom_reads_like_plain_utf8(draft, catalog_admin):
    plain = draft_release(label="plain", effective_from=JAN_2026, user=catalog_admin)
    run(plain, catalog_admin, "canonical.csv")
    result = run(draft, catalog_admin, "canonical_utf8_bom.csv")
    assert (result["encoding"], _snapshot(draft)) == ("UTF-8 with BOM", _snapshot(plain))


def test_gb18030_with_crlf_reads_like_utf8(draft, catalog_admin):
    plain = draft_release(label="plain", effective_from=JAN_2026, user=catalog_admin)
    run(plain, catalog_admin, "canonical.csv")
    result = run(draft, catalog_admin, "canonical_gb18030_crlf.csv")
    # A line break inside a quoted field is data: it stays CRLF, like the file wrote it.
    crlf_as_lf = [{k: v.replace("\r\n", "\n") if isinstance(v, str) else v for k, v in row.items()} for row in _snapshot(draft)]
    assert (result["encoding"], crlf_as_lf) == ("GB18030", _snapshot(plain))


def test_full_width_digits_and_spaces_in_codes_are_normalised(draft, catalog_admin):
    run(draft, catalog_admin, "canonical_fullwidth_codes.csv")
    assert {"001102000010000", "T000100001"} <= set(codes(draft))


def test_undecodable_file_is_an_encoding_error_on_its_line(draft, catalog_admin):
    data = (DATA / "canonical.csv").read_bytes().replace("一般诊疗费".encode(), b"\xff\xfe\xff", 1)
    with pytest.raises(BulkFileRejected) as err:
        run_bytes(draft, catalog_admin, data)
    assert [(e["line"], e["code"]) for e in err.value.errors] == [(6, "encoding")]


def test_bad_bytes_after_the_sniffed_start_are_an_encoding_error_on_their_line(draft, catalog_admin):
    header = (DATA / "canonical.csv").read_bytes().split(b"\n")[0] + b"\n"
    good = b"".join(f"{n:015d},,项目{n},,,,,次,次,01,,,,,,,,\n".encode() for n in range(1, 3001))
    data = header + good + "坏行".encode("gb18030") + b",,x,,,,,,,01,,,,,,,,\n"
    with pytest.raises(BulkFileRejected) as err:
        run_bytes(draft, catalog_admin, data)
    assert [(e["line"], e["code"]) for e in err.value.errors] == [(3002, "encoding")]


def test_malformed_code_is_a_code_format_error(draft, catalog_admin):
    assert ("code", "code_format") in errors_on(rejected(draft, catalog_admin, "canonical_bad_rows.csv"), 3)


def test_code_repeated_in_the_file_is_a_duplicate_code_error_on_the_later_line(draft, catalog_admin):
    exc = rejected(draft, catalog_admin, "canonical_bad_rows.csv")
    assert (errors_on(exc, 4), errors_on(exc, 2)) == ([("code", "duplicate_code")], [])


def test_missing_name_is_a_missing_field_error(draft, catalog_admin):
    assert errors_on(rejected(draft, catalog_admin, "canonical_bad_rows.csv"), 5) == [("name", "missing_field")]


def test_payment_category_outside_01_to_03_is_unknown_category(draft, catalog_admin):
    assert errors_on(rejected(draft, catalog_admin, "canonical_bad_rows.csv"), 6) == [("category", "unknown_category")]


def test_line_numbers_are_physical_lines_after_a_two_line_field(draft, catalog_admin):
    exc = rejected(draft, catalog_admin, "canonical_bad_rows.csv")
    assert (errors_on(exc, 7), errors_on(exc, 8), errors_on(exc, 9)) == ([], [], [("replaces", "unknown_successor")])


def test_item_replacing_a_code_still_in_the_draft_is_unknown_successor(draft, catalog_admin):
    assert errors_on(rejected(draft, catalog_admin, "canonical_bad_rows.csv"), 10) == [("replaces", "unknown_successor")]


def test_replaced_code_still_in_the_draft_before_a_merge_is_unknown_successor(draft, catalog_admin):
    run(draft, catalog_admin, "canonical.csv")
    header = (DATA / "canonical.csv").read_bytes().split(b"\n")[0] + b"\n"
    data = header + "T000100009,,党参,,,,,克,克,01,,,,,,,,T000100001\n".encode()
    with pytest.raises(BulkFileRejected) as err:
        run_bytes(draft, catalog_admin, data)
    assert [(e["line"], e["code"]) for e in err.value.errors] == [(2, "unknown_successor")]


def test_replace_mode_lets_a_successor_retire_a_code_of_the_draft(draft, catalog_admin):
    run(draft, catalog_admin, "canonical.csv")
    header = (DATA / "canonical.csv").read_bytes().split(b"\n")[0] + b"\n"
    run_bytes(draft, catalog_admin, header + "T000100009,,党参,,,,,克,克,01,,,,,,,,T000100001\n".encode(), mode="replace")
    assert codes(draft) == ["T000100009"]


def test_unknown_column_in_header_is_refused(draft, catalog_admin):
    with pytest.raises(BulkFileRejected) as err:
        run_bytes(draft, catalog_admin, b"code,name,category,colour\n001102000010000,x,01,red\n")
    assert [(e["line"], e["column"], e["code"]) for e in err.value.errors] == [(1, "colour", "unknown_column")]


def test_file_with_a_bad_row_changes_nothing(draft, catalog_admin):
    run(draft, catalog_admin, "canonical.csv")
    before, history = _snapshot(draft), CatalogItem.history.count()
    rejected(draft, catalog_admin, "canonical_bad_rows.csv", mode="replace")
    assert (_snapshot(draft), CatalogItem.history.count()) == (before, history)


def _service_rows(count, *, start=1):
    return b"".join(f"{n:015d},,项目{n},,,,,次,次,01,,,,,,,,\n".encode() for n in range(start, start + count))


@pytest.mark.slow
def test_bad_row_on_line_499999_leaves_the_draft_untouched(draft, catalog_admin):
    run(draft, catalog_admin, "canonical.csv")
    before = _snapshot(draft)
    header = (DATA / "canonical.csv").read_bytes().split(b"\n")[0] + b"\n"
    data = header + _service_rows(499_997) + b"999999999999999,,bad,,,,,,,09,,,,,,,,\n" + _service_rows(2, start=600_000)
    with pytest.raises(BulkFileRejected) as err:
        run_bytes(draft, catalog_admin, data)
    assert ([(e["line"], e["code"]) for e in err.value.errors], _snapshot(draft)) == ([(499_999, "unknown_category")], before)


def test_error_list_is_capped_and_counts_the_rest(draft, catalog_admin):
    header = b"code,name,category\n"
    data = header + b"".join(f"{n:015d},x,7\n".encode() for n in range(1, 1501))
    with pytest.raises(BulkFileRejected) as err:
        run_bytes(draft, catalog_admin, data)
    assert (len(err.value.errors), err.value.error_count) == (1000, 1500)


def test_reimporting_the_same_file_changes_nothing_and_writes_no_history(draft, catalog_admin):
    run(draft, catalog_admin, "canonical.csv")
    before, history = _snapshot(draft), CatalogItem.history.count()
    result = run(draft, catalog_admin, "canonical.csv")
    assert (result["added"], result["changed"], _snapshot(draft), CatalogItem.history.count()) == (0, 0, before, history)


def test_import_records_one_history_row_per_added_item_with_user_and_reason(draft, catalog_admin):
    run(draft, catalog_admin, "canonical.csv")
    rows = CatalogItem.history.filter(release_id=draft.pk)
    assert (rows.count(), set(rows.values_list("history_type", "history_user", "history_change_reason"))) == (
        7,
        {("+", catalog_admin.pk, "import canonical-csv canonical.csv")},
    )


def test_merge_updates_only_changed_rows_and_records_them(draft, catalog_admin):
    run(draft, catalog_admin, "canonical.csv")
    data = (DATA / "canonical.csv").read_bytes().replace("黄芪,黄芪".encode(), "黄芪（蜜炙）,黄芪".encode())
    result = run_bytes(draft, catalog_admin, data)
    changed = CatalogItem.history.filter(release_id=draft.pk, history_type="~")
    assert (result["changed"], result["unchanged"], list(changed.values_list("code", "name"))) == (1, 6, [("T000100001", "黄芪（蜜炙）")])


def test_replace_mode_deletes_codes_missing_from_the_file_with_history(draft, catalog_admin):
    run(draft, catalog_admin, "canonical.csv")
    lines = (DATA / "canonical.csv").read_bytes().split(b"\n")
    result = run_bytes(draft, catalog_admin, b"\n".join(lines[:2]) + b"\n", mode="replace")
    removed = CatalogItem.history.filter(release_id=draft.pk, history_type="-").count()
    assert (result["removed"], codes(draft), removed) == (6, ["XA02BCA211A001010101445"], 6)


def test_merge_keeps_draft_items_missing_from_the_file(draft, catalog_admin):
    run(draft, catalog_admin, "canonical.csv")
    lines = (DATA / "canonical.csv").read_bytes().split(b"\n")
    run_bytes(draft, catalog_admin, b"\n".join(lines[:2]) + b"\n")
    assert len(codes(draft)) == 7


def test_nhsa_consumables_rows_become_consumables_under_their_category_path(draft, catalog_admin):
    run(draft, catalog_admin, "nhsa_consumables.csv", fmt="nhsa-consumables-csv")
    stent = item(draft, "C0101020020151102100")
    assert (stent.kind, stent.category_path, stent.generic_name, stent.dosage_form, stent.manufacturer, stent.category) == (
        "consumable",
        "C01010200201511",
        "球囊类",
        "聚合物",
        "江苏常美医疗器械有限公司",
        "02",
    )


def test_nhsa_row_filed_under_another_class_is_a_code_format_error(draft, catalog_admin):
    data = (DATA / "nhsa_consumables.csv").read_bytes().replace("02-气道球囊扩张导管".encode(), "03-气道球囊扩张导管".encode())
    with pytest.raises(BulkFileRejected) as err:
        run_bytes(draft, catalog_admin, data, fmt="nhsa-consumables-csv")
    assert [(e["line"], e["column"], e["code"]) for e in err.value.errors] == [(4, "tertiary", "code_format")]


def test_nrdl_json_tree_loads_medicines_with_payment_category(draft, catalog_admin):
    result = run(draft, catalog_admin, "nrdl_2024_excerpt.json", fmt="nrdl-json")
    esomeprazole = item(draft, "XA02BCE150B001010100372")
    assert (result["rows"], esomeprazole.category, esomeprazole.category_path, esomeprazole.restriction_text[:2]) == (
        4,
        "02",
        "XA02BC",
        "限有",
    )


def test_nrdl_json_errors_name_the_record_index(draft, catalog_admin):
    data = (DATA / "nrdl_2024_excerpt.json").read_bytes().replace('"category": "甲"}'.encode(), '"category": "丁"}'.encode())
    with pytest.raises(BulkFileRejected) as err:
        run_bytes(draft, catalog_admin, data, fmt="nrdl-json")
    assert [(e["line"], e["column"], e["code"]) for e in err.value.errors] == [(3, "category", "unknown_category")]


def test_nrdl_medicine_filed_under_another_classification_is_a_code_format_error(draft, catalog_admin):
    data = (DATA / "nrdl_2024_excerpt.json").read_bytes().replace(b'"code": "XA10BA"', b'"code": "XA10BB"')
    with pytest.raises(BulkFileRejected) as err:
        run_bytes(draft, catalog_admin, data, fmt="nrdl-json")
    assert [(e["line"], e["code"]) for e in err.value.errors] == [(3, "code_format")]


def _xlsx(rows):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_of_the_canonical_layout_loads_like_the_csv(draft, catalog_admin):
    import csv

    plain = draft_release(label="plain", effective_from=JAN_2026, user=catalog_admin)
    run(plain, catalog_admin, "canonical.csv")
    rows = list(csv.reader(io.StringIO((DATA / "canonical.csv").read_text(encoding="utf-8"))))
    typed = [rows[0]] + [[int(c) if c.isdigit() and i in (12, 15) else c for i, c in enumerate(r)] for r in rows[1:]]
    run_bytes(draft, catalog_admin, _xlsx(typed), fmt="xlsx")
    assert _snapshot(draft) == _snapshot(plain)


def test_committed_xlsx_fixture_loads_every_row(draft, catalog_admin):
    result = run(draft, catalog_admin, "canonical.xlsx", fmt="xlsx")
    assert (result["rows"], item(draft, "XL01XCX238B002010182691").payment_standard_fen) == (7, 108300)


def test_xlsx_errors_name_the_spreadsheet_row(draft, catalog_admin):
    data = _xlsx([["code", "name", "category"], ["001102000010000", "一般诊疗费", "01"], ["001102000010001", "", "01"]])
    with pytest.raises(BulkFileRejected) as err:
        run_bytes(draft, catalog_admin, data, fmt="xlsx")
    assert [(e["line"], e["column"], e["code"]) for e in err.value.errors] == [(3, "name", "missing_field")]


def test_import_into_a_release_in_review_is_refused(draft, catalog_admin):
    from apps.catalog import services
    from apps.core.errors import Conflict

    run(draft, catalog_admin, "canonical.csv")
    services.release_submit(release=draft, user=catalog_admin)
    with pytest.raises(Conflict) as err:
        run(draft, catalog_admin, "canonical.csv")
    assert err.value.code == "release_not_draft"


def test_display_text_is_trimmed_and_nfc_and_codes_upper_cased(draft, catalog_admin):
    data = "code,name,manufacturer,category\r\nt000100001, 黄芪\u3000,Cafe\u0301 药业 ,01\r\n".encode()
    run_bytes(draft, catalog_admin, data)
    tcm = item(draft, "T000100001")
    assert (tcm.name, tcm.manufacturer) == ("黄芪", "Caf\u00e9 药业")


@pytest.mark.parametrize(
    ("name", "category", "stored"),
    [
        ("黄\u3000芪 片", "01", ("黄\u3000芪 片", "01")),  # spaces inside cells are kept as they are
        ("黄芪", " 01\u00a0", ("黄芪", "01")),  # an edge space in a cell that is not display text
        ("黄\t芪", "02", ("黄\t芪", "02")),  # a tab inside: the row is trimmed cell by cell, which keeps it
        ("\ufeffCafe\u0301", "03", ("Caf\u00e9", "03")),  # NFD and a byte-order mark at the edge
    ],
)
def test_cells_are_trimmed_and_normalised_only_where_they_need_it(draft, catalog_admin, name, category, stored):
    data = f"code,name,category\r\nT000100001,{name},{category}\r\n".encode()
    run_bytes(draft, catalog_admin, data)
    tcm = item(draft, "T000100001")
    assert (tcm.name, tcm.category) == stored


def test_row_with_more_cells_than_the_header_is_malformed_on_its_line(draft, catalog_admin):
    data = b"code,name,category\n001102000010000,x,01\n001102000010001,y,01,extra\n"
    with pytest.raises(BulkFileRejected) as err:
        run_bytes(draft, catalog_admin, data)
    assert [(e["line"], e["code"]) for e in err.value.errors] == [(3, "malformed_row")]


def test_unknown_format_is_refused_before_reading(draft, catalog_admin):
    from apps.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as err:
        run_bytes(draft, catalog_admin, b"code,name,category\n", fmt="dbf")
    assert err.value.errors[0]["field"] == "format"


def _statements(queries):
    return " ".join(q["sql"] for q in queries.captured_queries)


def test_a_good_file_into_an_empty_draft_goes_straight_from_staging_into_it(draft, catalog_admin):
    """No ``import_items`` (issue 22): the rows are normalised, checked and written in one
    statement, and the result is the checked way's."""
    with CaptureQueriesContext(connection) as queries:
        result = run(draft, catalog_admin, "canonical.csv")
    assert "import_items" not in _statements(queries)
    # the checked way: the same file replacing what a draft had
    other = draft_release(label="2026.02", effective_from=dt.date(2026, 2, 1), user=catalog_admin)
    header = (DATA / "canonical.csv").read_bytes().split(b"\n")[0] + b"\n"
    run_bytes(other, catalog_admin, header + _service_rows(1))
    with CaptureQueriesContext(connection) as queries:
        run(other, catalog_admin, "canonical.csv", mode="replace")
    assert "CREATE TEMP TABLE import_items" in _statements(queries)
    assert result["added"] == 7 and _snapshot(draft) == _snapshot(other)


@pytest.mark.parametrize(
    ("row", "line", "column", "code"),
    [
        # refused inside the load's statement
        ("T000100009,,党参,,,,,克,克,07,,,,,,,,", 3, "category", "unknown_category"),
        # by the code key built after it
        ("T000100001,,党参片,,,,,克,克,01,,,,,,,,", 3, "code", "duplicate_code"),
        # by the replaced codes' check after that
        ("T000100009,,党参,,,,,克,克,01,,,,,,,,T000100001", 3, "replaces", "unknown_successor"),
    ],
)
def test_a_bad_file_into_an_empty_draft_is_reported_by_the_checks_and_leaves_nothing(draft, catalog_admin, row, line, column, code):
    header = (DATA / "canonical.csv").read_bytes().split(b"\n")[0] + b"\n"
    data = header + "T000100001,,党参,,,,,克,克,01,,,,,,,,\n".encode() + f"{row}\n".encode()
    with CaptureQueriesContext(connection) as queries, pytest.raises(BulkFileRejected) as err:
        run_bytes(draft, catalog_admin, data)
    assert [(e["line"], e["column"], e["code"]) for e in err.value.errors] == [(line, column, code)]
    assert "catalog_import_row_refused" in _statements(queries) and "CREATE TEMP TABLE import_items" in _statements(queries)
    assert codes(draft) == [] and CatalogItem.history.filter(release_id=draft.pk).count() == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = %s", [f"catalog_catalogitem_r{draft.pk}"])
        assert cursor.fetchone() == (6,)  # the indexes the load dropped are back
