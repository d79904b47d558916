"""Admin scoped by province; the sunset report and the simulation page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from apps.benefits import services
from apps.benefits.selectors import province_by_code

from .conftest import DRUG_A, DRUG_C, JAN_2025, SHANGHAI, SICHUAN, approved_policy

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_province_staff_see_only_their_provinces_policies(sc_maker, sc_checker, sh_staff, sh_checker):
    approved_policy(SICHUAN, sc_maker, sc_checker)
    approved_policy(SHANGHAI, sh_staff, sh_checker)
    page = login(sh_staff).get("/admin/benefits/benefitpolicy/")
    assert [p.province.code for p in page.context["cl"].result_list] == [SHANGHAI]


def test_sunset_report_lists_the_staff_provinces_items_with_days_left(sh_staff, sc_maker):
    today = dt.date.today()
    for user, province, code in ((sh_staff, SHANGHAI, "SH-1"), (sc_maker, SICHUAN, "SC-1")):
        services.local_item_save(
            user=user,
            province=province_by_code(province),
            code=code,
            name=code,
            effective_from=JAN_2025,
            sunset_date=today + dt.timedelta(days=30),
        )
    page = login(sh_staff).get("/admin/benefits/localitem/sunset/")
    assert (b"SH-1" in page.content, b"SC-1" in page.content, b"<td>30</td>" in page.content) == (True, False, True)


def test_simulation_page_shows_both_scenarios(releases, home_policy, sc_maker):
    form = {
        "home_province": SICHUAN,
        "destination_province": SHANGHAI,
        "date_of_service": "2025-06-30",
        "scheme": "employee",
        "setting": "inpatient",
        "hospital_level": "3A",
        "deductible_used_yuan": "100.00",
        "lines": f"{DRUG_A['code']},1,100.00\n{DRUG_C['code']},1,5.00",
    }
    page = login(sc_maker).post("/admin/benefits/benefitpolicy/simulate/", form)
    simulation = page.context["simulation"]
    assert (simulation.at_home.totals["payable_fen"], simulation.away.totals["payable_fen"]) == (9_000, 7_200)


def test_simulation_page_shows_money_in_yuan(releases, home_policy, sc_maker):
    form = {
        "home_province": SICHUAN,
        "destination_province": SHANGHAI,
        "date_of_service": "2025-06-30",
        "scheme": "employee",
        "setting": "inpatient",
        "hospital_level": "3A",
        "deductible_used_yuan": "100.00",
        "lines": f"{DRUG_A['code']},1,100.00",
    }
    page = login(sc_maker).post("/admin/benefits/benefitpolicy/simulate/", form)
    assert b"\xc2\xa590.00" in page.content and b"\xc2\xa572.00" in page.content  # ¥90.00 at home, ¥72.00 away


def test_policy_drafted_in_admin_goes_through_the_service_with_history(sc_maker):
    form = {
        "province": province_by_code(SICHUAN).pk,
        "scheme": "resident",
        "setting": "outpatient",
        "hospital_level": "",
        "effective_from": "2025-01-01",
        "deductible_fen": "200.00",  # typed in yuan (元)
        "ratio_category_a": "0.6",
        "ratio_category_b": "0.5",
        "default_self_pay_ratio": "0.1",
        "annual_cap_fen": "10,000.00",
        "cross_province_ratio_registered": "1",
        "cross_province_ratio_unregistered": "0.8",
        "note": "",
    }
    response = login(sc_maker).post("/admin/benefits/benefitpolicy/add/", form)
    from apps.benefits.models import BenefitPolicy

    policy = BenefitPolicy.objects.get(scheme="resident")
    assert (response.status_code, policy.created_by, policy.history.first().history_change_reason) == (302, sc_maker, "drafted")
    assert (policy.deductible_fen, policy.annual_cap_fen) == (20_000, 1_000_000)


def test_simulation_page_names_reasons_in_chinese(releases, home_policy, sc_maker):
    form = {
        "home_province": SICHUAN,
        "destination_province": SHANGHAI,
        "date_of_service": "2025-06-30",
        "scheme": "employee",
        "setting": "inpatient",
        "hospital_level": "3A",
        "deductible_used_yuan": "0",
        "lines": f"{DRUG_C['code']},1,5.00",
    }
    page = login(sc_maker).post("/admin/benefits/benefitpolicy/simulate/", form).content.decode()
    assert ("丙类：不予支付" in page, "个人负担：参保地 ¥5.00，就医地 ¥5.00。" in page) == (True, True)
