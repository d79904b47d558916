"""Imports of whole files into a draft: every format, encodings, all-or-nothing, idempotency."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

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
