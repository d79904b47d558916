"""What settlement will pay (issue 20): every new reason code, both sides of every boundary.

The home policy pays 甲 items at 0.9 (deductible met, registered, so no cross-province cut);
each row names the rule it shows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.benefits.adjudication import adjudicate

from .conftest import DRUG_A, DRUG_C, SICHUAN
from .rules import (
    DOSED_3_DAYS,
    FREE_TEXT_INDICATION,
    INDICATED,
    ISSUE_DRUG,
    MAX_3_DAYS,
    STANDARD,
    STANDARD_B,
    line,
    rules_claim,
)

pytestmark = pytest.mark.django_db

# (case, claim overrides, line, expected (covered, reason_code, payable_fen, patient_fen, over_standard_fen, over_max_days_fen))
INPATIENT_CASES: list[tuple[str, dict[str, Any], Any, tuple[Any, ...]]] = [
    # structured indication: ICD-10 prefixes E11 and K35.8
    ("indication_category_matched", {"diagnoses": ("E11.900",)}, line(INDICATED["code"], 10_000), (True, "covered", 9_000, 1_000, 0, 0)),
    (
        "indication_diagnosis_just_outside_the_category",
        {"diagnoses": ("E12.900",)},
        line(INDICATED["code"], 10_000),
        (False, "restriction_indication", 0, 10_000, 0, 0),
    ),
    (
        "indication_subcategory_matched",
        {"diagnoses": ("K35.800",)},
        line(INDICATED["code"], 10_000),
        (True, "covered", 9_000, 1_000, 0, 0),
    ),
    (
        "indication_diagnosis_just_outside_the_subcategory",
        {"diagnoses": ("K35.900",)},
        line(INDICATED["code"], 10_000),
        (False, "restriction_indication", 0, 10_000, 0, 0),
    ),
    ("indication_without_any_diagnosis", {}, line(INDICATED["code"], 10_000), (False, "restriction_indication", 0, 10_000, 0, 0)),
    (
        "indication_matched_by_a_secondary_diagnosis",
        {"diagnoses": ("J18.900", "E11.900")},
        line(INDICATED["code"], 10_000),
        (True, "covered", 9_000, 1_000, 0, 0),
    ),
    (
        "indication_matched_by_the_asterisk_code",
        {"diagnoses": ("A01.000x005+E11.9*",)},
        line(INDICATED["code"], 10_000),
        (True, "covered", 9_000, 1_000, 0, 0),
    ),
    ("free_text_indication_is_not_applied", {}, line(FREE_TEXT_INDICATION["code"], 10_000), (True, "covered", 9_000, 1_000, 0, 0)),
    # maximum days from the line's days
    ("max_days_day_3_of_3", {}, line(MAX_3_DAYS["code"], 10_000, days=3), (True, "covered", 9_000, 1_000, 0, 0)),
    ("max_days_day_4_of_3", {}, line(MAX_3_DAYS["code"], 10_000, days=4), (True, "restriction_max_days", 6_750, 3_250, 0, 2_500)),
    ("max_days_30_of_3", {}, line(MAX_3_DAYS["code"], 30_000, days=30), (True, "restriction_max_days", 2_700, 27_300, 0, 27_000)),
    ("max_days_unknown_days_no_dose", {}, line(MAX_3_DAYS["code"], 10_000, quantity="30"), (True, "covered", 9_000, 1_000, 0, 0)),
    # maximum days from quantity over the approved daily dose (1 unit a day)
    ("daily_dose_3_units_is_3_days", {}, line(DOSED_3_DAYS["code"], 10_000, quantity="3"), (True, "covered", 9_000, 1_000, 0, 0)),
    (
        "daily_dose_4_units_is_4_days",
        {},
        line(DOSED_3_DAYS["code"], 10_000, quantity="4"),
        (True, "restriction_max_days", 6_750, 3_250, 0, 2_500),
    ),
    ("days_given_win_over_the_dose", {}, line(DOSED_3_DAYS["code"], 10_000, quantity="30", days=3), (True, "covered", 9_000, 1_000, 0, 0)),
    # payment standard of 1,000 fen a unit, 10 units
    ("standard_exactly_at", {}, line(STANDARD["code"], 10_000, quantity="10"), (True, "covered", 9_000, 1_000, 0, 0)),
    (
        "standard_one_fen_above",
        {},
        line(STANDARD["code"], 10_001, quantity="10"),
        (True, "over_payment_standard", 9_000, 1_001, 1, 0),
    ),
    ("standard_one_fen_below", {}, line(STANDARD["code"], 9_999, quantity="10"), (True, "covered", 8_999, 1_000, 0, 0)),
    (
        "standard_of_a_fractional_quantity_rounds_half_up",
        {},
        line(STANDARD["code"], 1_000, quantity="0.5005"),  # standard 500.5 → 501
        (True, "over_payment_standard", 451, 549, 499, 0),
    ),
    (
        "standard_before_the_category_b_self_pay_share",
        {},
        line(STANDARD_B["code"], 20_000, quantity="10"),  # 10,000 over; 10% of the 10,000 left is self-pay; 0.8 of 9,000
        (True, "over_payment_standard", 7_200, 12_800, 10_000, 0),
    ),
    # the issue's report: 30 units (30 days by the daily dose) of a 3-day drug, 50,000 fen, standard 1,000
    (
        "issue_example_days_then_standard",
        {},
        line(ISSUE_DRUG["code"], 50_000, quantity="30"),
        (True, "restriction_max_days", 2_700, 47_300, 2_000, 45_000),
    ),
    # critical condition with differentiated payment (inpatient term: lung cancer C34 at 0.95)
    ("critical_condition_ratio", {"diagnoses": ("C34.100",)}, line(DRUG_A["code"], 10_000), (True, "covered", 9_500, 500, 0, 0)),
    ("critical_condition_not_diagnosed", {"diagnoses": ("C35.000",)}, line(DRUG_A["code"], 10_000), (True, "covered", 9_000, 1_000, 0, 0)),
]


@pytest.mark.parametrize(("overrides", "claim_line", "expected"), [c[1:] for c in INPATIENT_CASES], ids=[c[0] for c in INPATIENT_CASES])
def test_inpatient_rules_table(rules_release, critical_term, overrides, claim_line, expected):
    decided = adjudicate(rules_claim(claim_line, **overrides)).lines[0]
    got = (
        decided.covered,
        decided.reason_code,
        decided.payable_fen,
        decided.patient_fen,
        decided.over_standard_fen,
        decided.over_max_days_fen,
    )
    assert got == expected


# chronic outpatient: hypertension (national five) 0.7, no deductible; Sichuan's own COPD 0.6 (not settled across provinces)
CHRONIC_CASES: list[tuple[str, dict[str, Any], tuple[Any, ...]]] = [
    ("listed_national_disease_across_provinces", {"diagnoses": ("I11.900",)}, (True, "covered", 7_000)),
    ("no_diagnosis", {}, (False, "disease_not_listed", 0)),
    ("diagnosis_just_outside_the_list", {"diagnoses": ("I14.000",)}, (False, "disease_not_listed", 0)),
    ("provincial_disease_across_provinces", {"diagnoses": ("J44.900",)}, (False, "disease_not_listed", 0)),
    ("provincial_disease_at_home", {"diagnoses": ("J44.900",), "destination_province": SICHUAN}, (True, "covered", 6_000)),
    ("first_listed_diagnosis_decides", {"diagnoses": ("K35.800", "I10.000", "J44.900")}, (True, "covered", 7_000)),
]


@pytest.mark.parametrize(("overrides", "expected"), [c[1:] for c in CHRONIC_CASES], ids=[c[0] for c in CHRONIC_CASES])
def test_chronic_outpatient_table(rules_release, chronic_policy, overrides, expected):
    claim = rules_claim(line(DRUG_A["code"], 10_000), setting="chronic_outpatient", deductible_used_fen=0, **overrides)
    decided = adjudicate(claim).lines[0]
    assert (decided.covered, decided.reason_code, decided.payable_fen) == expected


def test_a_listed_disease_brings_its_own_deductible_and_cap(rules_release, chronic_policy):
    claim = rules_claim(
        line(DRUG_A["code"], 1_000_000), setting="chronic_outpatient", deductible_used_fen=0, fund_paid_ytd_fen=0, diagnoses=("I11.900",)
    )
    result = adjudicate(claim)
    # no deductible (the policy's own is 500 yuan) and the disease's 5,000-yuan cap
    assert (result.lines[0].deductible_fen, result.lines[0].payable_fen, result.lines[0].reason_code) == (0, 500_000, "annual_cap_reached")


def test_the_claim_names_the_listed_disease_that_decided_it(rules_release, chronic_policy):
    claim = rules_claim(line(DRUG_A["code"], 100), setting="chronic_outpatient", diagnoses=("i11.900",))
    disease = adjudicate(claim).disease
    assert disease is not None and (disease["code"], disease["diagnosis"], disease["ratio"]) == ("hypertension", "I11.900", "0.7000")


def test_category_c_is_still_category_c_without_a_listed_disease(rules_release, chronic_policy):
    claim = rules_claim(line(DRUG_C["code"], 100), setting="chronic_outpatient")
    assert adjudicate(claim).lines[0].reason_code == "category_c_not_covered"


def test_a_lapsed_local_item_suggests_its_national_mapping(rules_release, home_policy, lapsed_local_item):
    from .conftest import LOCAL_CODE
    from .rules import SERVICE

    decided = adjudicate(rules_claim(line(LOCAL_CODE, 1_000))).lines[0]
    assert (decided.reason_code, decided.suggested_code) == ("local_item_expired", SERVICE["code"])


def test_a_local_item_in_force_suggests_nothing(rules_release, home_policy, lapsed_local_item):
    from .conftest import LOCAL_CODE

    decided = adjudicate(rules_claim(line(LOCAL_CODE, 1_000), date_of_service=dt.date(2025, 6, 30))).lines[0]
    assert (decided.reason_code, decided.suggested_code) == ("covered", None)


def test_cuts_take_deductible_and_cap_from_what_is_left(rules_release, home_policy):
    # 4 days of 3 leaves 7,500 of 10,000; the 6,000 of deductible still to meet comes out of it first
    claim = rules_claim(line(MAX_3_DAYS["code"], 10_000, days=4), deductible_used_fen=4_000)
    decided = adjudicate(claim).lines[0]
    assert (decided.deductible_fen, decided.payable_fen) == (6_000, 1_350)


def test_every_rule_still_costs_one_statement_per_claim(rules_release, critical_term, chronic_policy, drg_table):
    from .rules import DRG_AREA_HOSPITAL

    lines = [
        line(code["code"], 1_000 + n, line_no=n, quantity="2", days=n % 5 + 1)
        for n, code in enumerate([INDICATED, MAX_3_DAYS, DOSED_3_DAYS, STANDARD, ISSUE_DRUG] * 200, 1)
    ]
    claim = rules_claim(
        *lines, hospital_code=DRG_AREA_HOSPITAL, diagnoses=("E11.900", "C34.100"), procedures=("47.0100", "99.99"), drg_group="GB21"
    )
    with CaptureQueriesContext(connection) as ctx:
        result = adjudicate(claim)
    assert (len(ctx.captured_queries), len(result.lines), result.drg is not None) == (1, 1_000, True)
