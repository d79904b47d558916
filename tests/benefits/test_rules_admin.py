"""Admin pages of the pre-check's rules: they parse forms and call the services (who may do
what stays the services'), show row errors, and keep province staff to their own province."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from apps.benefits import services
from apps.benefits.models import DrgGroup, DrgVersion, PolicyDiseaseTerm, ServicePrice
from apps.benefits.selectors import province_by_code
from apps.core.reasons import code_label

from .conftest import HOME_POLICY, SHANGHAI, SICHUAN
from .rules import SERVICE

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _csv(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("upload.csv", text.encode("utf-8"), content_type="text/csv")


@pytest.fixture
def draft_table(catalog_admin) -> DrgVersion:
    return services.drg_version_create(user=catalog_admin, label="DRG-ADMIN", effective_from=dt.date(2026, 1, 1))


def test_a_catalog_administrator_uploads_drg_groups_on_the_tables_page(draft_table, catalog_admin):
    url = f"/admin/benefits/drgversion/{draft_table.pk}/upload/groups/"
    response = login(catalog_admin).post(url, {"file": _csv("code,name,weight\nGB21,胃切除术,1.5\n")})
    assert (response.status_code, list(DrgGroup.objects.filter(version=draft_table).values_list("code", flat=True))) == (302, ["GB21"])


def test_a_bad_upload_lists_its_rows_on_the_page(draft_table, catalog_admin):
    url = f"/admin/benefits/drgversion/{draft_table.pk}/upload/groups/"
    page = login(catalog_admin).post(url, {"file": _csv("code,name,weight\nGB2,x,1\n")}).content.decode()
    assert "第 2 行 [code] 编码格式错误：CHS-DRG 分组编码为 4 个字符" in page


def test_the_reviewer_approves_a_table_with_the_admin_action(draft_table, catalog_admin, reviewer):
    services.drg_groups_import(version=draft_table, user=catalog_admin, stream=_csv("code,name,weight\nGB21,x,1.5\n"))
    services.drg_area_rates_import(
        version=draft_table, user=catalog_admin, stream=_csv("area_code,base_rate_fen,out_of_town_from\n310100,1000000,2026-01-01\n")
    )
    services.drg_version_submit(version=draft_table, user=catalog_admin)
    login(reviewer).post("/admin/benefits/drgversion/", {"action": "approve", "_selected_action": [draft_table.pk]})
    draft_table.refresh_from_db()
    assert (draft_table.status, draft_table.approved_by) == ("approved", reviewer)


def test_the_author_sets_disease_terms_in_yuan_on_the_policys_page(sc_maker):
    policy = services.policy_create_draft(
        user=sc_maker, province=province_by_code(SICHUAN), **{**HOME_POLICY, "setting": "chronic_outpatient"}
    )
    url = f"/admin/benefits/benefitpolicy/{policy.pk}/diseases/"
    response = login(sc_maker).post(url, {"terms": "diabetes,0.75,0,3000.50\n"})
    term = PolicyDiseaseTerm.objects.get(policy=policy)
    assert (response.status_code, term.ratio, term.deductible_fen, term.annual_cap_fen) == (302, Decimal("0.7500"), 0, 300_050)


def test_someone_else_setting_the_terms_is_told_why(sc_maker, sc_checker):
    policy = services.policy_create_draft(
        user=sc_maker, province=province_by_code(SICHUAN), **{**HOME_POLICY, "setting": "chronic_outpatient"}
    )
    page = login(sc_checker).post(f"/admin/benefits/benefitpolicy/{policy.pk}/diseases/", {"terms": "diabetes,0.75\n"})
    with translation.override("zh-hans"):
        told = code_label("permission_denied")  # the refusal's label, in the page's language
    assert (told in page.content.decode(), PolicyDiseaseTerm.objects.count()) == (True, 0)


def test_another_provinces_policy_has_no_disease_terms_page(sc_maker, sh_staff):
    policy = services.policy_create_draft(user=sc_maker, province=province_by_code(SICHUAN), **HOME_POLICY)
    assert login(sh_staff).get(f"/admin/benefits/benefitpolicy/{policy.pk}/diseases/").status_code == 404


def test_province_staff_import_their_price_schedule_in_admin(sh_staff):
    form = {"province": SHANGHAI, "effective_from": "2025-07-01", "file": _csv(f"code,price_fen\n{SERVICE['code']},3000\n")}
    response = login(sh_staff).post("/admin/benefits/serviceprice/import/", form)
    assert (response.status_code, ServicePrice.objects.get().price_fen) == (302, 3_000)


def test_the_price_form_offers_province_staff_only_their_province(sh_staff):
    form = {"province": SICHUAN, "effective_from": "2025-07-01", "file": _csv(f"code,price_fen\n{SERVICE['code']},3000\n")}
    page = login(sh_staff).post("/admin/benefits/serviceprice/import/", form)
    assert (page.status_code, ServicePrice.objects.count()) == (200, 0)
