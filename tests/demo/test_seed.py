"""`seed_demo`, the data `make run` shows: a reconciled month whose report has content."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command

from apps.demo.seed import DEMO_PASSWORD, RECONCILIATION_PERIOD
from apps.pooling.models import Transfer
from apps.reconciliation.models import Discrepancy, ReconciliationRun, SettlementBatch

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_the_demo_month_has_a_finished_run_with_every_kind_of_discrepancy():
    _seed()
    run = ReconciliationRun.objects.get(period=RECONCILIATION_PERIOD)
    kinds = set(Discrepancy.objects.filter(run=run).values_list("kind", flat=True))
    assert (run.state, kinds) == (ReconciliationRun.State.SUCCEEDED, set(Discrepancy.Kind.values))


def test_seeding_twice_imports_and_reconciles_the_month_once():
    _seed()
    before = (SettlementBatch.objects.count(), ReconciliationRun.objects.count(), Transfer.objects.count())
    _seed()
    assert (SettlementBatch.objects.count(), ReconciliationRun.objects.count(), Transfer.objects.count()) == before


def test_the_printed_report_link_opens_for_the_shanghai_finance_maker(client: Any):
    link = next(line for line in _seed().splitlines() if line.startswith("Reconciliation of"))
    path = link.split("http://127.0.0.1:8000", 1)[1]
    login = client.post("/admin/login/", {"username": "sh_finance_maker", "password": DEMO_PASSWORD, "next": "/admin/"})
    assert login.status_code == 302
    page = client.get(path).content.decode()
    run = ReconciliationRun.objects.get(period=RECONCILIATION_PERIOD)
    assert (f"运行 #{run.pk}" in page, "440000" in page, "已提议" in page) == (True, True, True)
