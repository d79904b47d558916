"""POST /api/v1/claims/precheck/ (hospitals and staff) and /api/v1/benefits/simulate/ (staff)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.benefits.selectors import province_by_code
from apps.core.principals import HospitalPrincipal
from apps.hospitals.models import Hospital

from .conftest import DRUG_3A_ONLY, DRUG_A, DRUG_C, SHANGHAI, SICHUAN, approved_policy

pytestmark = pytest.mark.django_db
URL = "/api/v1/claims/precheck/"
SH_HOSPITAL = "H31010100001"
RUIJIN = HospitalPrincipal(hospital_id=1, institution_code=SH_HOSPITAL, province_code=SHANGHAI)


def body(**overrides):
    return {
        "home_province": SICHUAN,
        "hospital": SH_HOSPITAL,
        "date_of_service": "2025-06-30",
        "scheme": "employee",
        "setting": "inpatient",
        "registered": True,
        "deductible_used_fen": 10_000,
        "hospital_level": "3A",
        "lines": [
            {"line_no": 1, "code": DRUG_A["code"], "quantity": 2, "amount_fen": 10_000},
            {"line_no": 2, "code": DRUG_C["code"], "amount_fen": 500},
        ],
        **overrides,
    }


def test_hospital_gets_each_line_with_the_contract_fields(api, releases, home_policy):
    response = api(RUIJIN).post(URL, body(), format="json")
    line = response.json()["lines"][0]
    assert {k: line[k] for k in ("covered", "reason_code", "category", "payable_fen", "patient_fen", "release")} == {
        "covered": True,
        "reason_code": "covered",
        "category": "01",
        "payable_fen": 9_000,
        "patient_fen": 1_000,
        "release": "2025.01",
    }


def test_precheck_totals_add_up(api, releases, home_policy):
    totals = api(RUIJIN).post(URL, body(), format="json").json()["totals"]
    assert totals == {"amount_fen": 10_500, "payable_fen": 9_000, "patient_fen": 1_500}


def test_hospital_cannot_precheck_for_another_hospital(api, releases, home_policy):
    response = api(RUIJIN).post(URL, body(hospital="H31010100002"), format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_anonymous_caller_is_refused_with_401(api, releases, home_policy):
    response = api(None).post(URL, body(), format="json")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_staff_precheck_takes_the_destination_from_the_hospital_code(api, releases, home_policy, auditor):
    data = api(auditor).post(URL, body(registered=False), format="json").json()
    assert (data["destination_province"], data["cross_province"], data["lines"][0]["payable_fen"]) == (SHANGHAI, True, 7_200)


def test_registry_level_of_the_hospital_decides_level_restrictions(api, releases, home_policy):
    Hospital.objects.create(code=SH_HOSPITAL, name="区医院", province=province_by_code(SHANGHAI), level="2A")
    lines = [{"line_no": 1, "code": DRUG_3A_ONLY["code"], "amount_fen": 1_000}]
    line = api(RUIJIN).post(URL, body(lines=lines, hospital_level="3A"), format="json").json()["lines"][0]
    assert (line["covered"], line["reason_code"]) == (False, "restriction_hospital_level")


def test_bad_scheme_is_a_validation_error_naming_the_field(api, releases, home_policy):
    response = api(RUIJIN).post(URL, body(scheme="civil_servant"), format="json")
    assert (response.status_code, response.json()["code"], response.json()["errors"][0]["field"]) == (400, "validation_error", "scheme")


def test_fractional_amount_is_refused(api, releases, home_policy):
    lines = [{"line_no": 1, "code": DRUG_A["code"], "amount_fen": 10.5}]
    response = api(RUIJIN).post(URL, body(lines=lines), format="json")
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "lines.0.amount_fen")


def test_home_province_without_policy_is_a_stable_error(api, releases):
    response = api(RUIJIN).post(URL, body(), format="json")
    assert (response.status_code, response.json()["code"]) == (400, "no_benefit_policy")


def test_unknown_diagnosis_is_a_line_independent_warning(api, releases, home_policy):
    call_command("import_reference", "icd10", str(Path(__file__).parent / "data" / "icd10_sample.csv"), stdout=io.StringIO())
    data = api(RUIJIN).post(URL, body(diagnoses=["K35.800x001", "K35.999"]), format="json").json()
    assert ([w["code"] for w in data["warnings"]], data["lines"][0]["covered"]) == (["diagnosis_unknown"], True)


def test_drg_group_and_flag_are_echoed(api, releases, home_policy):
    data = api(RUIJIN).post(URL, body(drg_group="GB21", drg_payment=True), format="json").json()
    assert (data["drg_group"], data["drg_payment"]) == ("GB21", True)


def test_simulation_shows_at_home_and_in_shanghai_side_by_side(api, releases, home_policy, sc_maker, sh_staff, sh_checker):
    simulate = {**body(registered=False), "destination_province": SHANGHAI}
    simulate.pop("hospital")
    data = api(sc_maker).post("/api/v1/benefits/simulate/", simulate, format="json").json()
    assert (data["at_home"]["totals"]["payable_fen"], data["away"]["totals"]["payable_fen"]) == (9_000, 7_200)


def test_hospitals_cannot_use_the_simulation(api, releases, home_policy):
    response = api(RUIJIN).post("/api/v1/benefits/simulate/", {**body(), "destination_province": SHANGHAI}, format="json")
    assert response.status_code == 403


def test_precheck_appears_in_the_openapi_schema(api, auditor):
    schema = api(auditor).get("/api/schema/", {"format": "json"})
    assert "/api/v1/claims/precheck/" in schema.json()["paths"]


def test_shanghai_policy_is_not_used_for_a_sichuan_patient(api, releases, home_policy, sh_staff, sh_checker):
    approved_policy(SHANGHAI, sh_staff, sh_checker, ratio_category_a="0.5")
    assert api(RUIJIN).post(URL, body(), format="json").json()["policy"]["province"] == SICHUAN
