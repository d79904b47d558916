"""The pre-check and simulation APIs with the rules of issue 20 (API.md "Reconciliation and pooling"):
``days`` in, ``over_standard_fen`` / ``over_max_days_fen`` / ``suggested_code`` / ``drg`` out."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from apps.benefits import services
from apps.benefits.selectors import province_by_code
from apps.core.principals import HospitalPrincipal

from .conftest import DRUG_A, LOCAL_CODE, SHANGHAI, SICHUAN
from .rules import DAY, DRG_AREA_HOSPITAL, ISSUE_DRUG, MAX_3_DAYS, SERVICE, csv_file

pytestmark = pytest.mark.django_db
URL = "/api/v1/claims/precheck/"
RUIJIN = HospitalPrincipal(hospital_id=1, institution_code=DRG_AREA_HOSPITAL, province_code=SHANGHAI)


def body(*lines: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "home_province": SICHUAN,
        "date_of_service": DAY.isoformat(),
        "scheme": "employee",
        "setting": "inpatient",
        "registered": True,
        "deductible_used_fen": 10_000,
        "hospital_level": "3A",
        "lines": list(lines) or [{"line_no": 1, "code": DRUG_A["code"], "amount_fen": 10_000}],
        **overrides,
    }


def test_the_issue_report_now_answers_what_settlement_pays(api, rules_release, home_policy):
    lines = {"line_no": 1, "code": ISSUE_DRUG["code"], "quantity": 30, "amount_fen": 50_000}
    answer = api(RUIJIN).post(URL, body(lines), format="json").json()["lines"][0]
    got = {k: answer[k] for k in ("covered", "reason_code", "payable_fen", "patient_fen", "over_standard_fen", "over_max_days_fen")}
    assert got == {
        "covered": True,
        "reason_code": "restriction_max_days",
        "payable_fen": 2_700,
        "patient_fen": 47_300,
        "over_standard_fen": 2_000,
        "over_max_days_fen": 45_000,
    }


def test_days_on_the_line_decide_the_maximum_days(api, rules_release, home_policy):
    lines = {"line_no": 1, "code": MAX_3_DAYS["code"], "amount_fen": 10_000, "days": 4}
    answer = api(RUIJIN).post(URL, body(lines), format="json").json()["lines"][0]
    assert (answer["reason_code"], answer["payable_fen"]) == ("restriction_max_days", 6_750)


@pytest.mark.parametrize("days", [0, -1, 3661, 1.5, "3天"])
def test_bad_days_are_a_validation_error_naming_the_field(api, rules_release, home_policy, days):
    lines = {"line_no": 1, "code": MAX_3_DAYS["code"], "amount_fen": 10_000, "days": days}
    response = api(RUIJIN).post(URL, body(lines), format="json")
    assert (response.status_code, response.json()["code"], response.json()["errors"][0]["field"]) == (
        400,
        "validation_error",
        "lines.0.days",
    )


def test_a_lapsed_local_item_answers_its_suggested_code(api, rules_release, home_policy, lapsed_local_item):
    lines = {"line_no": 1, "code": LOCAL_CODE, "amount_fen": 1_000}
    answer = api(RUIJIN).post(URL, body(lines), format="json").json()["lines"][0]
    assert (answer["reason_code"], answer["suggested_code"]) == ("local_item_expired", SERVICE["code"])


def test_a_hospital_in_a_drg_area_gets_the_drg_block(api, rules_release, home_policy, drg_table):
    data = api(RUIJIN).post(URL, body(drg_group="GB21"), format="json").json()
    assert (data["pooling_area"], data["drg"]["hospital_payment_fen"], data["drg"]["fund_payment_fen"]) == ("310100", 1_500_000, 1_499_000)


def test_a_hospital_cannot_pre_check_as_if_in_another_pooling_area(api, rules_release, home_policy, drg_table):
    response = api(RUIJIN).post(URL, body(drg_group="GB21", pooling_area="310200"), format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_staff_name_the_pooling_area(api, rules_release, home_policy, drg_table, auditor):
    data = api(auditor).post(URL, body(drg_group="GB21", hospital="H31020000001", pooling_area="310100"), format="json").json()
    assert data["drg"]["group"] == "GB21"


def test_a_pooling_area_that_is_not_a_city_code_is_refused(api, rules_release, home_policy, auditor):
    response = api(auditor).post(URL, body(hospital=DRG_AREA_HOSPITAL, pooling_area="310000"), format="json")
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "pooling_area")


def test_procedures_are_checked_as_warnings(api, rules_release, home_policy):
    call_command("import_reference", "icd9cm3", str(Path(__file__).parent / "data" / "icd9cm3_sample.csv"), stdout=io.StringIO())
    data = api(RUIJIN).post(URL, body(procedures=["47.0100", "47.9900", "appendectomy"]), format="json").json()
    warnings = sorted((w["code"], w["procedure"]) for w in data["warnings"])
    assert (warnings, data["lines"][0]["covered"]) == ([("procedure_code_format", "APPENDECTOMY"), ("procedure_unknown", "47.9900")], True)


def test_the_schema_documents_the_new_answer_fields(api, auditor):
    components = api(auditor).get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]
    fields = set(components["LineResult"]["properties"]) | set(components["PrecheckResponse"]["properties"])
    assert {"over_standard_fen", "over_max_days_fen", "suggested_code", "drg", "disease", "pooling_area"} <= fields


# --- the simulation, priced at home and at the destination -------------------------------------------


@pytest.fixture
def prices(sc_maker: Any, sh_staff: Any) -> None:
    for user, province, price in ((sc_maker, SICHUAN, 1_500), (sh_staff, SHANGHAI, 3_000)):
        services.service_prices_import(
            user=user,
            province=province_by_code(province),
            effective_from=DAY.replace(day=1),
            stream=csv_file(f"code,price_fen\n{SERVICE['code']},{price}\n"),
        )


def _simulate(api: Any, user: Any, *lines: dict[str, Any]) -> Any:
    payload = {**body(*lines), "destination_province": SHANGHAI, "registered": False}
    return api(user).post("/api/v1/benefits/simulate/", payload, format="json")


def test_the_simulation_prices_the_same_claim_at_home_and_at_the_destination(api, rules_release, home_policy, prices, sc_maker):
    data = _simulate(api, sc_maker, {"line_no": 1, "code": SERVICE["code"], "quantity": 2}).json()
    amounts = (data["at_home"]["lines"][0]["amount_fen"], data["away"]["lines"][0]["amount_fen"])
    patient = (data["at_home"]["totals"]["patient_fen"], data["away"]["totals"]["patient_fen"])
    # at home 3,000 at 0.9; away 6,000 at 0.9 × 0.8 (unregistered): the patient pays 300 vs 1,680
    assert (amounts, patient, data["pricing"]["away"][0]["priced_from"]) == ((3_000, 6_000), (300, 1_680), "schedule")


def test_a_line_without_price_or_amount_is_refused_by_name(api, rules_release, home_policy, prices, sc_maker):
    response = _simulate(api, sc_maker, {"line_no": 7, "code": DRUG_A["code"], "quantity": 1})
    assert (response.status_code, response.json()["code"], response.json()["errors"][0]["field"]) == (
        400,
        "price_unknown",
        "lines.7.amount_fen",
    )


def test_a_drug_line_keeps_the_amount_the_claim_gives(api, rules_release, home_policy, prices, sc_maker):
    data = _simulate(api, sc_maker, {"line_no": 1, "code": DRUG_A["code"], "amount_fen": 10_000}).json()
    assert [side[0]["priced_from"] for side in data["pricing"].values()] == ["claim", "claim"]
