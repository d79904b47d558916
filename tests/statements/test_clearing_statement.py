"""The monthly clearing statement of a province for a run (issue 18): owed and received per
counterpart province, the transfers that settle it and the advance top-up, as JSON and as a PDF
whose extracted text carries the same figures; walled by province."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from apps.benefits.models import Province
from apps.pooling import services as pooling
from tests.factories import staff
from tests.reconciliation.conftest import GD, PERIOD, SC, SH, recon_default_plan, row  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(recon_default_plan):  # noqa: F811 - the fixture imported above
    """Sichuan's insured: 3 claims in Shanghai (fund ¥70.00 each), 2 in Guangdong (¥30.00 each);
    Shanghai's: 1 claim in Sichuan (¥50.00)."""
    recon = recon_default_plan
    rows = [row(f"SC-SH-{n}", home=SC, dest=SH, fund=7000) for n in range(3)]
    rows += [row(f"SC-GD-{n}", home=SC, dest=GD, fund=3000) for n in range(2)]
    rows += [row("SH-SC-0", home=SH, dest=SC, fund=5000)]
    recon.both(*rows)
    return recon.run()


def _pdf_text(content: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def _statement(api, user, run, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return api(user).get(f"/api/v1/reconciliation/runs/{run.pk}/statement/?{query}")


def test_sichuan_owes_and_receives_per_counterpart(api, run):
    body = _statement(api, staff("finance_maker", SC, username="sc-reader"), run, format="json").json()
    assert [(r["province"], r["owes_fen"], r["receives_fen"], r["net_fen"]) for r in body["counterparts"]] == [
        (SH, 21000, 5000, -16000),
        (GD, 6000, 0, -6000),
    ]
    totals = {"owes_fen": 27000, "receives_fen": 5000, "adjustments_owed_fen": 0, "adjustments_received_fen": 0, "net_fen": -22000}
    assert (body["totals"], body["net_position_fen"]) == (totals, -22000)


def test_the_transfers_that_settle_sichuans_position_are_listed(api, run):
    body = _statement(api, staff("finance_maker", SC, username="sc-reader"), run, format="json").json()
    assert sorted((t["to_province"], t["amount_fen"], t["direction"]) for t in body["transfers"]) == [
        (SH, 16000, "pays"),
        (GD, 6000, "pays"),
    ]


def test_pdf_holds_the_figures_in_yuan_with_chinese_labels(api, run):
    response = _statement(api, staff("finance_checker", SC, username="sc-reader"), run)
    text = _pdf_text(response.content)
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
    for figure in ("月度清算对账单", "四川省", "¥210.00", "¥50.00", "-¥160.00", "¥60.00", "¥270.00", "-¥220.00", "¥160.00", "已发起"):
        assert figure in text, figure


def test_the_advance_top_up_after_the_clearing_is_on_the_statement(api, recon_default_plan):  # noqa: F811
    national = staff("finance_checker", "", username="national-checker")
    pooling.advance_policy_set(province=Province.objects.get(code=SC), threshold_fen=50_000, target_fen=100_000, user=national)
    recon_default_plan.both(row("SC-SH-0", home=SC, dest=SH, fund=7000))
    run = recon_default_plan.run()  # the clearing draws on Sichuan's advance, which then needs a top-up
    pooling.advance_topups_check(province_codes=[SC], period=PERIOD)
    body = _statement(api, national, run, province=SC, format="json").json()
    assert [(t["amount_fen"], t["state"]) for t in body["advance"]["topups"]] == [(100_000 + 7_000, "proposed")]
    assert "¥1,070.00" in _pdf_text(_statement(api, national, run, province=SC).content)


def test_a_province_without_advance_policy_has_no_advance_section(api, run):
    body = _statement(api, staff("finance_maker", SH, username="sh-reader"), run, format="json").json()
    assert (body["advance"], body["net_position_fen"]) == (None, 16000)


def test_a_province_bound_reader_naming_another_province_gets_403_wrong_province(api, run):
    response = _statement(api, staff("finance_maker", SC, username="sc-reader"), run, province=SH)
    assert (response.status_code, response.json()["code"]) == (403, "wrong_province")


def test_a_national_reader_must_name_the_province(api, run):
    response = _statement(api, staff("auditor", "", username="auditor-1"), run)
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "province")


def test_a_province_outside_the_run_is_refused(api, run):
    response = _statement(api, staff("auditor", "", username="auditor-1"), run, province="110000", format="json")
    assert (response.status_code, response.json()["errors"][0]["code"]) == (400, "province_not_in_run")


def test_catalog_roles_get_403(api, run):
    response = _statement(api, staff("catalog_reviewer", "", username="reviewer-x"), run, province=SC)
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def _admin_page(user, run):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client, client.get(f"/admin/reconciliation/reconciliationrun/{run.pk}/change/").content.decode()


def test_the_run_admin_page_links_each_provinces_statement_for_national_readers(run):
    _, page = _admin_page(staff("auditor", "", username="auditor-1"), run)
    assert [f"statement/?province={code}&amp;format=pdf" in page for code in (SH, SC, GD)] == [True, True, True]


def test_the_run_admin_page_links_only_her_own_statement_for_a_province_bound_reader(run):
    client, page = _admin_page(staff("finance_checker", SC, username="sc-reader"), run)
    link = f"/api/v1/reconciliation/runs/{run.pk}/statement/?province={SC}&format=pdf"
    assert ([f"province={code}&amp;" in page for code in (SH, SC, GD)], client.get(link)["Content-Type"]) == (
        [False, True, False],
        "application/pdf",
    )
