"""Export files: spreadsheet formula injection is neutralised in every text field of the CSV."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io

import pytest

from apps.catalog import exports
from tests.factories import published_release

pytestmark = pytest.mark.django_db
TEXT_FIELDS = (
    "name",
    "generic_name",
    "dosage_form",
    "specification",
    "manufacturer",
    "unit",
    "pricing_unit",
    "restriction_text",
    "restriction_indication",
)


def _export_rows(release):
    with exports.open_export(release, "csv_gz") as handle:
        text = gzip.decompress(handle.read()).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@"])
def test_csv_export_neutralises_formula_prefixes_in_every_text_field(prefix, catalog_admin, reviewer):
    payload = {field: f"{prefix}cmd|' /C calc'!A{n}" for n, field in enumerate(TEXT_FIELDS)}
    item = {"code": "001102000010000", "category": "01", **payload}
    release = published_release(
        label=f"f{ord(prefix)}", effective_from=dt.date(2025, 1, ord(prefix) % 28 + 1), admin=catalog_admin, reviewer=reviewer, items=[item]
    )
    row = _export_rows(release)[0]
    assert {field: row[field] for field in TEXT_FIELDS} == {field: "'" + value for field, value in payload.items()}


def test_csv_export_leaves_ordinary_text_alone(catalog_admin, reviewer):
    item = {"code": "001102000010000", "category": "01", "name": "一般诊疗费", "unit": "次"}
    release = published_release(label="plain", effective_from=dt.date(2025, 1, 1), admin=catalog_admin, reviewer=reviewer, items=[item])
    row = _export_rows(release)[0]
    assert (row["name"], row["unit"]) == ("一般诊疗费", "次")
