"""Hospital accountability: a destination province's hospitals ranked by codings against a
release not in force, lapsed local items billed and amount mismatches; CSV; a national view."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.benefits import services as benefits
from apps.benefits.models import Province
from apps.core.roles import Role
from apps.core.services import token_issue
from apps.reconciliation import selectors, services
from tests.factories import staff

from .conftest import GD, HEADER, PERIOD, SC, SH

H_SH_1, H_SH_2, H_GD = "H31010100001", "H31010100002", "H44010100001"


def line(sid: str, hospital: str, *, dest: str = SH, label: str = "2026.03", fund: int = 7000, local: str = "") -> str:
    return f"{sid},{SC},{dest},{hospital},p{sid},2026-03-10,{label},,10000,{fund},{10000 - fund},{local}"


def load(recon: Any, side: str, *lines: str) -> None:
    content = "\n".join([HEADER + ",local_codes", *lines]) + "\n"
    services.settlement_import(period=PERIOD, side=side, file=io.BytesIO(content.encode()), user=recon.maker)


@pytest.fixture
def month(recon_default_plan: Any) -> Any:
    recon = recon_default_plan
    sh_staff = staff(Role.PROVINCE_STAFF, SH, username="cmp-sh-staff")
    benefits.local_item_save(
        user=sh_staff,
        province=Province.objects.get(code=SH),
        code="SH-LOCAL-1",
        name="本地项目",
        effective_from=dt.date(2024, 1, 1),
        sunset_date=dt.date(2026, 3, 1),
        reason="过渡期",
    )
    home = [line("A1", H_SH_1), line("A2", H_SH_1, fund=5000), line("B1", H_SH_2), line("G1", H_GD, dest=GD, fund=5000)]
    destination = [
        line("A1", H_SH_1, label="2026.01"),
        line("A2", H_SH_1, fund=5500),
        line("B1", H_SH_2, local="SH-LOCAL-1;XA01"),
        line("G1", H_GD, dest=GD, fund=5300),
    ]
    load(recon, "home", *home)
    load(recon, "destination", *destination)
    recon.run()
    return recon


def test_hospitals_of_a_destination_province_are_ranked_by_what_they_get_wrong(month: Any) -> None:
    rows = selectors.compliance_report(period=PERIOD, province=SH)
    assert [
        (r["hospital_code"], r["release_not_in_force"], r["lapsed_local_items"], r["amount_mismatches"], r["mismatch_fen"]) for r in rows
    ] == [
        (H_SH_1, 1, 0, 1, 500),
        (H_SH_2, 0, 1, 0, 0),
    ]


def test_the_national_view_covers_every_destination_province(month: Any) -> None:
    rows = selectors.compliance_report(period=PERIOD)
    assert {(r["destination_province"], r["hospital_code"]) for r in rows} == {(SH, H_SH_1), (SH, H_SH_2), (GD, H_GD)}
    assert selectors.compliance_report(period="2026-04") == []


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user)}")
    return client


def test_the_report_over_the_api_pages_exports_csv_and_keeps_the_province_wall(month: Any) -> None:
    sh = _client(staff(Role.FINANCE_CHECKER, SH, username="cmp-sh-checker"))
    page = sh.get("/api/v1/reconciliation/compliance/", {"period": PERIOD, "page_size": 1}).json()
    assert [r["hospital_code"] for r in page["results"]] == [H_SH_1] and page["next"].startswith("http://testserver/")
    assert [r["hospital_code"] for r in sh.get(page["next"]).json()["results"]] == [H_SH_2]
    assert sh.get("/api/v1/reconciliation/compliance/", {"period": PERIOD, "province": GD}).json()["code"] == "wrong_province"
    csv_text = b"".join(sh.get("/api/v1/reconciliation/compliance.csv", {"period": PERIOD}).streaming_content).decode()
    assert csv_text.splitlines()[0].startswith("destination_province,hospital_code,release_not_in_force")
    assert H_SH_1 in csv_text and H_GD not in csv_text
    national = _client(month.maker).get("/api/v1/reconciliation/compliance/", {"period": PERIOD, "page_size": 1000}).json()
    assert len(national["results"]) == 3
    assert _client(month.maker).get("/api/v1/reconciliation/compliance/", {"period": "03-2026"}).status_code == 400


def test_the_staff_page_shows_a_province_bound_reader_her_own_hospitals(month: Any, client: Any) -> None:
    client.force_login(staff(Role.PROVINCE_STAFF, GD, username="cmp-gd-staff"))
    page = client.get("/reconciliation/compliance/", {"period": PERIOD, "province": SH}).content.decode()
    assert H_GD in page and H_SH_1 not in page


def test_a_province_that_is_not_a_gb_t_2260_province_is_refused_by_the_one_rule(month: Any) -> None:
    national = _client(staff(Role.FINANCE_MAKER, "", username="cmp-national-code"))
    for bad in ("990000", "310100", "31000"):
        response = national.get("/api/v1/reconciliation/compliance/", {"period": PERIOD, "province": bad})
        assert (response.status_code, response.json()["errors"][0]["code"]) == (400, "invalid"), bad
    full_width = national.get("/api/v1/reconciliation/compliance/", {"period": PERIOD, "province": "３１００００"}).json()
    assert {r["destination_province"] for r in full_width["results"]} == {SH}
