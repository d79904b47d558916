"""Region figures from CSV: all or nothing with every bad row (line, column, code), history
naming the file, the province wall, and the job pipeline."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.core.bulk import BulkFileRejected
from apps.core.models import AuditEvent, Job
from apps.pooling import services
from apps.pooling.models import RegionPeriodFigures
from tests.pooling.conftest import SC, SH

pytestmark = pytest.mark.django_db
HEADER = "region_code,period,fund_income_fen,fund_expenditure_fen,active_insured,retirees,cross_regional_fen"
GOOD = [
    "510100,2026-01,100000000,80000000,300000,100000,5000000",
    "510300,2026-01,10000001,15000000,50000,60000,0",
]


def csv_file(*rows: str, header: str = HEADER, encoding: str = "utf-8") -> io.BytesIO:
    return io.BytesIO(("\n".join([header, *rows]) + "\n").encode(encoding))


def run(people, *rows: str, user=None, **kwargs):
    return services.figures_import(file=csv_file(*rows, **kwargs), user=user or people.sc_maker, filename="figures-2026-01.csv")


def rejected(people, *rows: str, **kwargs) -> list[tuple[int, str, str]]:
    with pytest.raises(BulkFileRejected) as refused:
        run(people, *rows, **kwargs)
    return [(e["line"], e["column"], e["code"]) for e in refused.value.errors]


def test_a_good_file_stores_every_row(people):
    result = run(people, *GOOD)
    stored = {(f.region.code, f.fund_income_fen, f.cross_regional_fen) for f in RegionPeriodFigures.objects.select_related("region")}
    assert (result["created"], stored) == (2, {("510100", 100000000, 5000000), ("510300", 10000001, 0)})


def test_each_imported_row_has_a_history_row_naming_the_file(people):
    run(people, *GOOD)
    figures = RegionPeriodFigures.objects.get(region__code="510100")
    assert figures.history.get().history_change_reason == "imported from figures-2026-01.csv"


def test_an_import_writes_one_audit_event(people):
    run(people, *GOOD)
    assert AuditEvent.objects.filter(action="region_figures.imported").count() == 1


def test_importing_the_same_file_again_changes_nothing(people):
    run(people, *GOOD)
    again = run(people, *GOOD)
    assert (again["unchanged"], again["updated"], RegionPeriodFigures.history.count()) == (2, 0, 2)


def test_a_corrected_row_is_updated_with_history(people):
    run(people, *GOOD)
    again = run(people, GOOD[0], "510300,2026-01,12000000,15000000,50000,60000,0")
    figures = RegionPeriodFigures.objects.get(region__code="510300")
    assert (again["updated"], figures.fund_income_fen, figures.history.count()) == (1, 12000000, 2)


def test_a_province_code_stands_for_the_provinces_own_fund(people):
    run(people, "310000,2026-01,500,400,10,4,0", user=people.sh_maker)
    figures = RegionPeriodFigures.objects.get()
    assert (figures.province.code, figures.region) == (SH, None)


def test_a_bad_row_leaves_everything_untouched_and_names_line_column_and_code(people):
    assert rejected(people, *GOOD, "510400,2026-01,1.5,0,1,1,0") == [(4, "fund_income_fen", "money_format")]
    assert not RegionPeriodFigures.objects.exists()


def test_every_bad_row_is_listed(people):
    errors = rejected(
        people,
        "999900,2026-01,1,1,1,1,0",
        "510100,2026-13,1,1,1,1,0",
        "510300,2026-01,1,1,-5,1,0",
        "510400,2026-01,1,10,1,1,11",
        "510500,2026-01,１００,1,1,1,0",
    )
    assert errors == [
        (2, "region_code", "unknown_region"),
        (3, "period", "period_format"),
        (4, "active_insured", "count_format"),
        (5, "cross_regional_fen", "over_expenditure"),
        (6, "fund_income_fen", "money_format"),
    ]


def test_the_same_region_and_month_twice_is_a_duplicate(people):
    assert rejected(people, GOOD[0], GOOD[0]) == [(3, "region_code", "duplicate_row")]


def test_missing_and_unknown_columns_are_named_on_line_1(people):
    errors = rejected(people, "510100,2026-01,1,1,1", header="region_code,period,fund_income_fen,fund_expenditure_fen,retired")
    assert errors == [(1, "retired", "unknown_column"), (1, "active_insured", "missing_field"), (1, "retirees", "missing_field")]


def test_a_column_named_twice_is_a_duplicate_on_line_1(people):
    errors = rejected(people, GOOD[0] + ",1", header=HEADER + ",retirees")
    assert errors == [(1, "retirees", "duplicate_column")]


def test_a_maker_cannot_import_another_provinces_region(people):
    assert rejected(people, *GOOD, user=people.sh_maker) == [(2, "region_code", "wrong_province"), (3, "region_code", "wrong_province")]


def test_a_gb18030_file_is_read(people):
    run(people, *GOOD, encoding="gb18030")
    assert RegionPeriodFigures.objects.count() == 2


def test_a_utf16_file_is_an_encoding_error(people):
    assert rejected(people, *GOOD, encoding="utf-16") == [(1, "", "encoding")]


def test_the_cross_regional_column_is_optional(people):
    run(people, "510100,2026-01,1,1,1,1", header="region_code,period,fund_income_fen,fund_expenditure_fen,active_insured,retirees")
    assert RegionPeriodFigures.objects.get().cross_regional_fen == 0


def test_an_upload_runs_as_a_job_and_reports_its_result(people, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("f.csv", csv_file(*GOOD).getvalue(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.figures_import_enqueue(upload=upload, user=people.sc_maker)
    job.refresh_from_db()
    assert (job.state, job.result["created"], job.params["province"]) == ("succeeded", 2, SC)


def test_a_bad_upload_fails_its_job_with_the_row_errors(people, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("f.csv", csv_file("510100,2026-01,x,1,1,1,0").getvalue(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.figures_import_enqueue(upload=upload, user=people.sc_maker)
    job = Job.objects.get(pk=job.pk)
    assert (job.state, [(e["line"], e["column"], e["code"]) for e in job.errors]) == ("failed", [(2, "fund_income_fen", "money_format")])
