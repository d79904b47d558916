"""`seed_demo`, the data `make run` shows: a reconciled month whose report has content."""

from __future__ import annotations

import datetime as dt
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
    assert (f"run #{run.pk}" in page, "440000" in page, "proposed" in page) == (True, True, True)


def test_the_demo_hospitals_got_the_release_ahead_delivered_and_two_acknowledged_it():
    from apps.notices.models import NoticeDelivery, ReleaseAcknowledgement

    _seed()
    ahead = f"{dt.date.today().year + 1}.01"
    states = set(NoticeDelivery.objects.filter(notice__release__label=ahead).values_list("state", flat=True))
    acks = ReleaseAcknowledgement.objects.filter(release__label=ahead).count()
    assert (states, acks) == ({"delivered"}, 2)


def test_the_printed_hospital_key_reads_the_api_and_the_previous_run_key_is_revoked(client: Any):
    first = next(line for line in _seed().splitlines() if line.startswith("Hospital API key")).rsplit(" ", 1)[1]
    second = next(line for line in _seed().splitlines() if line.startswith("Hospital API key")).rsplit(" ", 1)[1]
    fresh = client.get("/api/v1/catalog/releases/?in_force_on=2026-06-01", HTTP_AUTHORIZATION=f"Api-Key {second}")
    stale = client.get("/api/v1/catalog/releases/?in_force_on=2026-06-01", HTTP_AUTHORIZATION=f"Api-Key {first}")
    assert (fresh.status_code, fresh.json()["results"][0]["label"], stale.status_code) == (200, "2026.01", 401)


def test_the_seed_prints_the_staff_home_and_the_api_docs():
    out = _seed()
    assert ("http://127.0.0.1:8000/staff/" in out, "http://127.0.0.1:8000/api/docs/" in out, "Api-Key" in out) == (True, True, True)


# Every staff page the demo is for, with the rows that must be on it after seeding (as admin).
PAGES = [
    ("/staff/", "recent-jobs"),
    ("/admin/catalog/catalogrelease/", "result_list"),
    ("/admin/catalog/catalogitem/", "result_list"),
    ("/admin/hospitals/hospital/", "result_list"),
    ("/admin/hospitals/apikey/", "result_list"),
    ("/admin/notices/changenotice/", "result_list"),
    ("/admin/notices/noticedelivery/", "result_list"),
    ("/admin/notices/releaseacknowledgement/", "result_list"),
    ("/admin/notices/webhookendpoint/", "result_list"),
    ("/admin/pooling/transfer/?state__exact=proposed", "result_list"),
    ("/admin/benefits/benefitpolicy/?status__exact=submitted", "result_list"),
    ("/admin/reconciliation/reconciliationrun/", "result_list"),
    ("/admin/reconciliation/discrepancy/", "result_list"),
    ("/admin/catalog/catalogrelease/?status__exact=in_review", "result_list"),
]


@pytest.mark.parametrize(("path", "table"), PAGES, ids=[p for p, _t in PAGES])
def test_each_demo_page_has_rows_after_seeding(client: Any, path: str, table: str):
    _seed()
    client.post("/admin/login/", {"username": "admin", "password": DEMO_PASSWORD, "next": "/admin/"})
    response = client.get(path)
    page = response.content.decode()
    assert response.status_code == 200, path
    body = page[page.index(f'id="{table}"') :]
    assert body.count("<tr") >= 2, f"{path} has no rows"


def test_the_adoption_page_and_the_reviews_have_content(client: Any):
    _seed()
    client.post("/admin/login/", {"username": "catalog_admin", "password": DEMO_PASSWORD, "next": "/admin/"})
    year = dt.date.today().year
    adoption = client.get("/hospitals/adoption/").content.decode()  # staff roles only (not the superuser)
    draft = client.get(f"/catalog/releases/{year + 2}.01/review/").content.decode()
    submitted = client.get(f"/catalog/releases/{year + 1}.07/review/").content.decode()
    assert ("310000" in adoption, 'id="review-warning"' in draft, 'name="approve"' in submitted) == (True, True, True)


def test_the_demo_month_has_a_discrepancy_in_each_state():
    _seed()
    run = ReconciliationRun.objects.get(period=RECONCILIATION_PERIOD)
    states = set(Discrepancy.objects.filter(run=run).values_list("state", flat=True))
    assert states == set(Discrepancy.State.values)
