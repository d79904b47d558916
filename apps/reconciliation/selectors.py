"""Reads of reconciliation runs and discrepancies."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from django.db.models import QuerySet

from .models import Discrepancy, ReconciliationRun

CSV_COLUMNS = (
    "kind",
    "settlement_id",
    "side",
    "field",
    "home_province",
    "destination_province",
    "home_value",
    "destination_value",
    "delta_fen",
    "expected",
    "count",
)


def runs() -> QuerySet[ReconciliationRun]:
    return ReconciliationRun.objects.all()


def discrepancies(*, run: ReconciliationRun, home: str = "", destination: str = "") -> QuerySet[Discrepancy]:
    rows = Discrepancy.objects.filter(run=run)
    if home:
        rows = rows.filter(home_province=home)
    if destination:
        rows = rows.filter(destination_province=destination)
    return rows.order_by("id")


def discrepancies_csv(*, run: ReconciliationRun, home: str = "", destination: str = "") -> Iterator[str]:
    """The run's discrepancies (optionally of one province pair) as CSV lines, streamed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    for row in discrepancies(run=run, home=home, destination=destination).values_list(*CSV_COLUMNS).iterator(chunk_size=5000):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(["" if v is None else v for v in row])
        yield buffer.getvalue()
