"""``core.bulk.header_errors``: the one header check of the catalog, settlement, mapping, region
figures and benefits imports (unknown, repeated and missing columns, on line 1, in one order)."""

from __future__ import annotations

from django.utils import translation

from apps.core.bulk import header_errors
from apps.core.errors import localized

ALLOWED = ("code", "name", "category", "note")
REQUIRED = ("code", "name", "category")


def _found(header, **kwargs):
    return [(e["line"], e["column"], e["code"]) for e in header_errors(header, **{"allowed": ALLOWED, "required": REQUIRED, **kwargs})]


def test_a_header_of_the_layout_has_no_errors_whatever_its_column_order():
    assert _found(["note", "category", "name", "code"]) == []


def test_a_column_outside_the_layout_is_unknown_on_line_1():
    assert _found(["code", "name", "category", "colour"]) == [(1, "colour", "unknown_column")]


def test_a_repeated_column_is_a_duplicate_at_its_second_appearance_only():
    assert _found(["code", "name", "category", "name", "name"]) == [(1, "name", "duplicate_column"), (1, "name", "duplicate_column")]


def test_a_repeated_unknown_column_is_unknown_each_time():
    assert _found(["code", "name", "category", "x", "x"]) == [(1, "x", "unknown_column"), (1, "x", "unknown_column")]


def test_a_required_column_the_header_lacks_is_missing_under_the_importers_code():
    assert (_found(["code", "name"]), _found(["code", "name"], missing_code="missing_column")) == (
        [(1, "category", "missing_field")],
        [(1, "category", "missing_column")],
    )


def test_errors_follow_the_header_then_the_required_columns_in_their_order():
    assert _found(["zeta", "code", "code", "alpha"]) == [
        (1, "zeta", "unknown_column"),
        (1, "code", "duplicate_column"),
        (1, "alpha", "unknown_column"),
        (1, "name", "missing_field"),
        (1, "category", "missing_field"),
    ]


def test_a_layout_that_takes_any_other_column_checks_only_repeats_and_required_ones():
    assert _found(["code", "colour", "code"], allowed=None) == [
        (1, "code", "duplicate_column"),
        (1, "name", "missing_field"),
        (1, "category", "missing_field"),
    ]


def test_a_json_record_names_its_own_line():
    assert _found(["code", "name", "category", "colour"], line=7) == [(7, "colour", "unknown_column")]


def test_messages_name_the_column_and_the_layout_in_english_and_chinese():
    errors = header_errors(["code", "colour", "code"], allowed=ALLOWED, required=REQUIRED)
    english = [e["message"] for e in errors]
    with translation.override("zh-hans"):
        chinese = [localized(e)["message"] for e in errors]
    assert english == [
        "column 'colour' is not one of code, name, category, note",
        "column 'code' appears twice",
        "the header lacks the required column 'name'",
        "the header lacks the required column 'category'",
    ]
    assert chinese == [
        "列 'colour' 不是以下之一：code, name, category, note",
        "列 'code' 出现了两次",
        "表头缺少必需的列 'name'",
        "表头缺少必需的列 'category'",
    ]
