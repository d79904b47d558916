"""Staff home, the job progress page and the chart data the staff pages embed."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.contrib.auth import get_user_model

from apps.core.models import Job
from apps.core.roles import Role
from apps.core.templatetags.portal_charts import chart_spec
from tests.factories import draft_release, staff

pytestmark = pytest.mark.django_db


def _json_script(page: str, element_id: str) -> object:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', page, re.S)
    assert match, f"no json_script #{element_id}"
    return json.loads(match.group(1))


def test_staff_home_lists_the_pages_of_the_users_own_role_only(client):
    client.force_login(staff(Role.FINANCE_CHECKER, "310000", username="checker"))
    page = client.get("/staff/").content.decode()
    assert re.findall(r'id="role-([a-z_]+)"', page) == [Role.FINANCE_CHECKER, "common"]
    assert "/admin/pooling/transfer/?state__exact=proposed" in page


def test_a_catalog_role_sees_no_fund_page_in_the_header_or_on_the_staff_home(client):
    client.force_login(staff(Role.CATALOG_ADMIN, "", username="cat-admin"))
    pages = client.get("/staff/").content.decode() + client.get("/admin/").content.decode()
    assert ("/admin/pooling/" in pages, "/admin/reconciliation/" in pages, "/admin/catalog/catalogrelease/" in pages) == (
        False,
        False,
        True,
    )


def test_a_finance_role_sees_no_catalog_release_link_in_the_header(client):
    client.force_login(staff(Role.FINANCE_MAKER, "310000", username="maker"))
    header = client.get("/staff/").content.decode()
    assert ("/admin/catalog/catalogrelease/" in header, "/admin/pooling/fundaccount/overview/" in header) == (False, True)


def test_a_superuser_sees_every_roles_pages(client):
    client.force_login(get_user_model().objects.create_superuser("root-user", password="x"))
    page = client.get("/staff/").content.decode()
    assert set(re.findall(r'id="role-([a-z_]+)"', page)) == {*Role.values, "common"}


def test_staff_home_refuses_a_staff_account_without_a_role(client):
    client.force_login(get_user_model().objects.create_user("norole", password="x", is_staff=True))
    assert client.get("/staff/").status_code == 403


def test_job_page_refuses_a_staff_account_without_a_role(client):
    job = Job.objects.create(kind="catalog.import")
    client.force_login(get_user_model().objects.create_user("norole", password="x", is_staff=True))
    assert client.get(f"/staff/jobs/{job.pk}/").status_code == 403


def test_job_page_of_an_import_links_the_release_review_and_the_job_json(client, catalog_admin):
    job = Job.objects.create(kind="catalog.import", state=Job.State.RUNNING, done=25, total=100, params={"release": "2026A"})
    client.force_login(catalog_admin)
    page = client.get(f"/staff/jobs/{job.pk}/").content.decode()
    assert f'data-url="/api/v1/jobs/{job.pk}/"' in page
    assert 'href="/catalog/releases/2026A/review/"' in page
    assert '<p id="job-percent">25%</p>' in page


def test_import_page_links_each_job_to_its_progress_page(client, catalog_admin):
    release = draft_release(label="2026A", effective_from=dt.date(2026, 1, 1), user=catalog_admin)
    job = Job.objects.create(kind="catalog.import", params={"release": "2026A", "filename": "a.csv"})
    client.force_login(catalog_admin)
    page = client.get(f"/admin/catalog/catalogrelease/{release.pk}/import/").content.decode()
    assert f'href="/staff/jobs/{job.pk}/"' in page


def test_chart_spec_scales_values_and_skips_rows_that_are_all_zero():
    rows = [{"name": "上海", "a": 12345, "b": -500}, {"name": "四川", "a": 0, "b": 0}]
    spec = chart_spec(rows, label="name", values="a|b", names="balance|net", scale=100, skip_zero=True)
    assert spec["labels"] == ["上海"]
    assert [d["label"] for d in spec["datasets"]] == ["balance", "net"]
    assert [d["data"] for d in spec["datasets"]] == [[123.45], [-5.0]]


def test_chart_spec_draws_at_most_limit_rows():
    rows = [{"name": str(i), "v": i} for i in range(50)]
    assert len(chart_spec(rows, label="name", values="v", limit=40)["labels"]) == 40


def test_fund_overview_embeds_balances_in_yuan_for_the_chart(client):
    from tests.pooling.conftest import SH, People, account, ensure_ledger, fund

    ensure_ledger()
    people = People()
    fund(account("provincial", SH), 100_00, people)
    client.force_login(people.sh_checker)
    spec = _json_script(client.get("/admin/pooling/fundaccount/overview/").content.decode(), "fund-chart-data")
    assert isinstance(spec, dict)
    assert spec["datasets"][0]["data"][spec["labels"].index(str(account("provincial", SH)))] == 100.0


def test_adoption_page_embeds_the_share_per_province_for_the_chart(client, catalog_admin, reviewer):
    from apps.hospitals import services as hospitals
    from tests.factories import published_release

    published_release(label="2026A", effective_from=dt.date(2026, 1, 1), admin=catalog_admin, reviewer=reviewer, count=2)
    hospitals.hospital_register(code="H31010100001", name="医院一", province_code="310000")
    client.force_login(catalog_admin)
    spec = _json_script(client.get("/hospitals/adoption/").content.decode(), "adoption-chart-data")
    assert isinstance(spec, dict)
    assert spec["max"] == 100 and spec["unit"] == "%"
    assert spec["datasets"][0]["data"] == [0.0]


def test_job_page_of_a_finished_reconciliation_run_links_the_run_report(client):
    job = Job.objects.create(
        kind="reconciliation.run",
        state=Job.State.SUCCEEDED,
        done=3,
        total=3,
        result={"run": 17},
        params={"period": "2026-03", "province": ""},
    )
    client.force_login(staff(Role.FINANCE_CHECKER, "310000", username="checker"))
    page = client.get(f"/staff/jobs/{job.pk}/").content.decode()
    assert 'id="job-run-link" href="/reconciliation/runs/17/"' in page
