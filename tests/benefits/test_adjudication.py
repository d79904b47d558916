"""Destination catalog, home-province benefits: table-driven cases through the service."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.benefits.adjudication import Claim, ClaimLine, adjudicate
from apps.core.errors import ValidationFailed

from .conftest import (
    DRUG_3A_ONLY,
    DRUG_A,
    DRUG_B,
    DRUG_B_DEFAULT,
    DRUG_C,
    LOCAL_CODE,
    NEW_IN_2026,
    SHANGHAI,
    SICHUAN,
)

pytestmark = pytest.mark.django_db
SUMMER = dt.date(2025, 6, 30)


def claim(*lines: tuple[str, int], **overrides: Any) -> Claim:
    base = Claim(
        home_province=SICHUAN,
        destination_province=SHANGHAI,
        date_of_service=SUMMER,
        scheme="employee",
        setting="inpatient",
        hospital_level="3A",
        registered=True,
        deductible_used_fen=10_000,  # deductible already met unless a case says otherwise
        lines=tuple(ClaimLine(line_no=n, code=code, amount_fen=amount) for n, (code, amount) in enumerate(lines, start=1)),
    )
    return replace(base, **overrides)


# (case id, claim overrides, line (code, amount), expected (covered, reason_code, payable_fen, patient_fen))
CASES = [
    ("category_a_fully_in_scope", {}, (DRUG_A["code"], 10_000), (True, "covered", 9_000, 1_000)),
    ("category_b_item_self_pay_share_first", {}, (DRUG_B["code"], 10_000), (True, "covered", 7_200, 2_800)),
    ("category_b_province_default_self_pay", {}, (DRUG_B_DEFAULT["code"], 10_000), (True, "covered", 6_800, 3_200)),
    ("category_c_not_covered", {}, (DRUG_C["code"], 10_000), (False, "category_c_not_covered", 0, 10_000)),
    ("deductible_partly_used", {"deductible_used_fen": 6_000}, (DRUG_A["code"], 10_000), (True, "covered", 5_400, 4_600)),
    ("deductible_larger_than_line", {"deductible_used_fen": 0}, (DRUG_A["code"], 8_000), (True, "covered", 0, 8_000)),
    ("cap_reached", {"fund_paid_ytd_fen": 50_000_000 - 3_000}, (DRUG_A["code"], 10_000), (True, "annual_cap_reached", 3_000, 7_000)),
    ("cap_exhausted", {"fund_paid_ytd_fen": 50_000_000}, (DRUG_A["code"], 10_000), (True, "annual_cap_reached", 0, 10_000)),
    ("local_item_before_sunset", {}, (LOCAL_CODE, 10_000), (True, "covered", 6_400, 3_600)),
    ("local_item_on_sunset_day", {"date_of_service": dt.date(2025, 7, 1)}, (LOCAL_CODE, 10_000), (False, "local_item_expired", 0, 10_000)),
    ("local_item_of_another_province", {"destination_province": "440000"}, (LOCAL_CODE, 10_000), (False, "not_in_catalog", 0, 10_000)),
    (
        "day_before_new_release",
        {"date_of_service": dt.date(2025, 12, 31)},
        (NEW_IN_2026["code"], 10_000),
        (False, "not_in_catalog", 0, 10_000),
    ),
    (
        "day_new_release_takes_effect",
        {"date_of_service": dt.date(2026, 1, 1)},
        (NEW_IN_2026["code"], 10_000),
        (True, "covered", 9_000, 1_000),
    ),
    ("cross_province_without_registration", {"registered": False}, (DRUG_A["code"], 10_000), (True, "covered", 7_200, 2_800)),
    (
        "at_home_ignores_cross_ratio",
        {"registered": False, "destination_province": SICHUAN},
        (DRUG_A["code"], 10_000),
        (True, "covered", 9_000, 1_000),
    ),
    (
        "restricted_level_not_met",
        {"hospital_level": "2A"},
        (DRUG_3A_ONLY["code"], 10_000),
        (False, "restriction_hospital_level", 0, 10_000),
    ),
    ("restricted_level_met", {}, (DRUG_3A_ONLY["code"], 10_000), (True, "covered", 9_000, 1_000)),
    ("bad_code_format", {}, ("XA01", 10_000), (False, "code_format", 0, 10_000)),
    ("valid_code_not_in_catalog", {}, ("XA01ABD075A002010199999", 10_000), (False, "not_in_catalog", 0, 10_000)),
    ("half_fen_rounds_up_to_the_fund", {}, (DRUG_A["code"], 5), (True, "covered", 5, 0)),
    ("code_is_normalised_first", {}, (" " + DRUG_A["code"].lower(), 10_000), (True, "covered", 9_000, 1_000)),
]


@pytest.mark.parametrize(("overrides", "line", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_adjudication_table(releases, home_policy, shanghai_local_item, overrides, line, expected):
    result = adjudicate(claim(line, **overrides))
    decided = result.lines[0]
    assert (decided.covered, decided.reason_code, decided.payable_fen, decided.patient_fen) == expected


def test_release_used_is_the_one_in_force_on_the_date_of_service(releases, home_policy):
    labels = [adjudicate(claim((DRUG_A["code"], 100), date_of_service=day)).release for day in (dt.date(2025, 12, 31), dt.date(2026, 1, 1))]
    assert labels == ["2025.01", "2026.01"]


def test_deductible_is_taken_once_across_lines_in_line_order(releases, home_policy):
    result = adjudicate(claim((DRUG_A["code"], 6_000), (DRUG_A["code"], 6_000), deductible_used_fen=0))
    assert [line.deductible_fen for line in result.lines] == [6_000, 4_000]


def test_cap_is_shared_by_the_lines_of_a_claim(releases, home_policy):
    result = adjudicate(claim((DRUG_A["code"], 10_000), (DRUG_A["code"], 10_000), fund_paid_ytd_fen=50_000_000 - 12_000))
    assert [(line.payable_fen, line.reason_code) for line in result.lines] == [(9_000, "covered"), (3_000, "annual_cap_reached")]


def test_policy_of_the_home_province_is_used_not_the_destination(releases, home_policy, sh_staff, sh_checker):
    from .conftest import approved_policy

    approved_policy(SHANGHAI, sh_staff, sh_checker, ratio_category_a="0.5")
    assert adjudicate(claim((DRUG_A["code"], 10_000))).lines[0].payable_fen == 9_000


def test_missing_home_policy_is_a_claim_level_error(releases):
    with pytest.raises(ValidationFailed) as err:
        adjudicate(claim((DRUG_A["code"], 100)))
    assert err.value.code == "no_benefit_policy"


def test_date_before_any_release_is_a_claim_level_error(releases, home_policy):
    with pytest.raises(ValidationFailed) as err:
        adjudicate(claim((DRUG_A["code"], 100), date_of_service=dt.date(2024, 12, 31)))
    assert err.value.code == "no_release_in_force"


def test_duplicate_line_numbers_are_refused_per_line(releases, home_policy):
    lines = (ClaimLine(line_no=1, code=DRUG_A["code"], amount_fen=100), ClaimLine(line_no=1, code=DRUG_A["code"], amount_fen=100))
    result = adjudicate(replace(claim(), lines=lines))
    assert [line.reason_code for line in result.lines] == ["covered", "duplicate_line_no"]


def test_query_count_does_not_grow_with_the_number_of_lines(releases, home_policy, shanghai_local_item):
    codes = [DRUG_A["code"], DRUG_B["code"], DRUG_C["code"], LOCAL_CODE, "XA01ABD075A002010199999"]

    def count(n: int) -> int:
        many = claim(*[(codes[i % len(codes)], 1_000 + i) for i in range(n)], diagnoses=("A00.000",))
        with CaptureQueriesContext(connection) as ctx:
            adjudicate(many)
        return len(ctx.captured_queries)

    assert count(5) == count(1_000) <= 6


def test_drg_group_and_flag_are_kept_on_the_result(releases, home_policy):
    result = adjudicate(claim((DRUG_A["code"], 100), drg_group="FR23", drg_payment=True))
    assert (result.drg_group, result.drg_payment, result.warnings[-1]["code"]) == ("FR23", True, "drg_payment_not_adjudicated")
