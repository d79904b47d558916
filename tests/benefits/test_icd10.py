"""`import_reference icd10 PATH` and the diagnosis check of the pre-check."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.benefits.adjudication import _diagnosis_warnings
from apps.benefits.models import DiagnosisCode

pytestmark = pytest.mark.django_db
SAMPLE = Path(__file__).parent / "data" / "icd10_sample.csv"


def test_command_loads_every_row_including_extension_and_dagger_codes():
    call_command("import_reference", "icd10", str(SAMPLE), stdout=io.StringIO())
    assert set(DiagnosisCode.objects.filter(code__in=["K35.800x001", "A01.000x005+J17.0*"]).values_list("code", flat=True)) == {
        "K35.800x001",
        "A01.000x005+J17.0*",
    }


def test_import_keeps_the_hierarchy_columns():
    call_command("import_reference", "icd10", str(SAMPLE), stdout=io.StringIO())
    row = DiagnosisCode.objects.get(code="E11.900")
    assert (row.chapter_range, row.section_range, row.category_code, row.subcategory_code, row.name) == (
        "E00-E90",
        "E10-E14",
        "E11",
        "E11.9",
        "2型糖尿病",
    )


def test_reimport_updates_rather_than_duplicates():
    call_command("import_reference", "icd10", str(SAMPLE), stdout=io.StringIO())
    out = io.StringIO()
    call_command("import_reference", "icd10", str(SAMPLE), stdout=out)
    assert (DiagnosisCode.objects.count(), "0 new, 8 updated" in out.getvalue()) == (8, True)


def test_gb18030_file_is_accepted(tmp_path):
    path = tmp_path / "icd10-gbk.csv"
    path.write_bytes(SAMPLE.read_text(encoding="utf-8").encode("gb18030"))
    call_command("import_reference", "icd10", str(path), stdout=io.StringIO())
    assert DiagnosisCode.objects.get(code="J18.900").name == "肺炎"


def test_bad_row_names_line_and_column_and_imports_nothing(tmp_path):
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("A00.900", "A0.9")
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_reference", "icd10", str(path), stdout=io.StringIO(), stderr=err)
    assert ("line 3 column code: code_format" in err.getvalue(), DiagnosisCode.objects.count()) == (True, 0)


def test_unknown_and_malformed_diagnoses_are_claim_level_warnings():
    call_command("import_reference", "icd10", str(SAMPLE), stdout=io.StringIO())
    warnings = _diagnosis_warnings(("K35.800x001", "Z99.999", "appendicitis"))
    assert sorted((w["code"], w["diagnosis"]) for w in warnings) == [
        ("diagnosis_code_format", "APPENDICITIS"),
        ("diagnosis_unknown", "Z99.999"),
    ]


def _import_lines(tmp_path, lines):
    path = tmp_path / "icd10.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_reference", "icd10", str(path), stdout=io.StringIO(), stderr=err)
    return err.getvalue()


def test_a_code_repeated_in_the_file_is_a_duplicate_on_the_later_line(tmp_path):
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    err = _import_lines(tmp_path, [*lines[:3], lines[1]])
    assert ("line 4 column code: duplicate_code: A00.100 repeats line 2" in err, DiagnosisCode.objects.count()) == (True, 0)


def test_a_row_without_eleven_columns_is_malformed_on_its_line(tmp_path):
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    short = ",".join(lines[2].split(",")[:10])
    assert "line 3 column -: malformed_row" in _import_lines(tmp_path, [*lines[:2], short])


def test_full_width_code_and_extension_marker_are_normalised_as_in_claims(tmp_path):
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "icd10.csv"
    path.write_text("\n".join([*lines, lines[0].replace("A00.000,", "Ｋ３５.８００Ｘ００２,")]) + "\n", encoding="utf-8")
    call_command("import_reference", "icd10", str(path), stdout=io.StringIO())
    assert DiagnosisCode.objects.filter(code="K35.800x002").exists()


def test_a_name_longer_than_its_column_is_too_long_and_nothing_is_imported(tmp_path):
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    cells = lines[1].split(",")
    cells[10] = "名" * 256
    assert ("line 2 column name: too_long" in _import_lines(tmp_path, [lines[0], ",".join(cells)]), DiagnosisCode.objects.count()) == (
        True,
        0,
    )
