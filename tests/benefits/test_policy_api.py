"""Benefit policies over the API (API.md "Reconciliation and pooling"): GET/POST
/api/v1/benefits/policies/, /{id}/submit/, /{id}/approve/ by a province_staff of that province
who did not edit it; province-bound users read and write their own province only."""

from __future__ import annotations

import pytest

from apps.core.roles import Role
from tests.factories import staff

from .conftest import SHANGHAI, SICHUAN

pytestmark = pytest.mark.django_db

BODY = {
    "province": SICHUAN,
    "scheme": "employee",
    "setting": "inpatient",
    "hospital_level": "",
    "effective_from": "2027-01-01",
    "deductible_fen": 80_000,
    "ratio_category_a": "0.9000",
    "ratio_category_b": "0.8500",
    "default_self_pay_ratio": "0.1000",
    "annual_cap_fen": 40_000_000,
    "cross_province_ratio_registered": "1.0000",
    "cross_province_ratio_unregistered": "0.8000",
    "note": "四川 2027 职工住院",
}


def _create(api, user, **overrides):
    return api(user).post("/api/v1/benefits/policies/", {**BODY, **overrides}, format="json")


def test_province_staff_drafts_a_policy_and_gets_it_back_with_ratios_as_decimal_strings(api, sc_maker):
    response = _create(api, sc_maker)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["province"], body["ratio_category_b"], body["deductible_fen"], body["created_by"]) == (
        "draft",
        SICHUAN,
        "0.8500",
        80_000,
        "sc-maker",
    )


def test_drafting_for_another_province_is_403_wrong_province(api, sh_staff):
    response = _create(api, sh_staff)
    assert (response.status_code, response.json()["code"]) == (403, "wrong_province")


def test_a_ratio_above_one_is_400_naming_the_field(api, sc_maker):
    response = _create(api, sc_maker, ratio_category_a="1.2")
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["ratio_category_a"]


def test_a_note_is_text_a_person_typed_not_a_number(api, sc_maker):
    response = _create(api, sc_maker, note=2027)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["note"]


def test_an_end_not_after_the_start_is_400_range_reversed(api, sc_maker):
    response = _create(api, sc_maker, effective_to="2027-01-01")
    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("effective_to", "range_reversed")]


def test_submit_then_approve_by_a_colleague_puts_the_policy_in_force(api, sc_maker, sc_checker):
    policy = _create(api, sc_maker).json()
    submitted = api(sc_maker).post(f"/api/v1/benefits/policies/{policy['id']}/submit/")
    assert (submitted.status_code, submitted.json()["status"], submitted.json()["submitted_by"]) == (200, "submitted", "sc-maker")
    approved = api(sc_checker).post(f"/api/v1/benefits/policies/{policy['id']}/approve/")
    assert (approved.status_code, approved.json()["status"], approved.json()["approved_by"]) == (200, "approved", "sc-checker")


def test_the_drafter_approving_after_a_colleague_submitted_is_409(api, sc_maker, sc_checker):
    policy = _create(api, sc_maker).json()
    api(sc_checker).post(f"/api/v1/benefits/policies/{policy['id']}/submit/")
    response = api(sc_maker).post(f"/api/v1/benefits/policies/{policy['id']}/approve/")
    assert (response.status_code, response.json()["code"]) == (409, "same_user_cannot_approve")


def test_approving_a_draft_that_was_not_submitted_is_409(api, sc_maker, sc_checker):
    policy = _create(api, sc_maker).json()
    response = api(sc_checker).post(f"/api/v1/benefits/policies/{policy['id']}/approve/")
    assert (response.status_code, response.json()["code"]) == (409, "policy_not_submitted")


def test_staff_of_another_province_approving_is_403_wrong_province(api, sc_maker, sh_staff):
    policy = _create(api, sc_maker).json()
    api(sc_maker).post(f"/api/v1/benefits/policies/{policy['id']}/submit/")
    response = api(sh_staff).post(f"/api/v1/benefits/policies/{policy['id']}/approve/")
    assert (response.status_code, response.json()["code"]) == (403, "wrong_province")


def test_province_staff_list_only_their_own_provinces_policies(api, sc_maker, sh_staff):
    _create(api, sc_maker)
    _create(api, sh_staff, province=SHANGHAI, note="上海 2027")
    rows = api(sh_staff).get("/api/v1/benefits/policies/").json()["results"]
    assert {row["province"] for row in rows} == {SHANGHAI}


def test_national_staff_list_every_province_and_filter_by_one(api, sc_maker, sh_staff, auditor):
    _create(api, sc_maker)
    _create(api, sh_staff, province=SHANGHAI, note="上海 2027")
    every = {row["province"] for row in api(auditor).get("/api/v1/benefits/policies/").json()["results"]}
    one = {row["province"] for row in api(auditor).get(f"/api/v1/benefits/policies/?province={SICHUAN}").json()["results"]}
    assert (every, one) == ({SICHUAN, SHANGHAI}, {SICHUAN})


def test_finance_staff_do_not_draft_policies(api):
    finance = staff(Role.FINANCE_MAKER, SICHUAN, username="sc-finance")
    response = _create(api, finance)
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_an_anonymous_caller_gets_401(api):
    response = api(None).get("/api/v1/benefits/policies/")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")
