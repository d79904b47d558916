"""The pre-check's per-claim fast path: ratios scaled once per claim give the same split as the
documented rule, the home policy comes with the scope in one statement, and each line keeps
its own code."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from apps.benefits.adjudication import ClaimLine, LineSplit, adjudicate, split_scaled
from apps.core.money import apply_ratio

from .conftest import DRUG_A, DRUG_B, DRUG_B_DEFAULT
from .test_adjudication import claim

ratios = st.decimals(min_value=0, max_value=1, places=4)
fen = st.integers(min_value=0, max_value=10**12)


def documented_split(amount: int, self_pay: Decimal, ratio: Decimal, deductible_left: int, cap_left: int) -> LineSplit:
    """Steps 1-5 of apps.benefits.adjudication's docstring with Decimal half-up rounding."""
    own = apply_ratio(amount, self_pay)
    eligible = amount - own
    deductible = min(eligible, max(deductible_left, 0))
    payable = apply_ratio(eligible - deductible, ratio)
    capped = payable > cap_left
    payable = max(cap_left, 0) if capped else payable
    return LineSplit(payable, amount - payable, own, deductible, capped)


@given(amount=fen, self_pay=ratios, ratio=ratios, factor=ratios, deductible=fen, cap=fen)
def test_scaled_split_equals_the_documented_decimal_rule(amount, self_pay, ratio, factor, deductible, cap):
    scaled = split_scaled(
        amount_fen=amount,
        self_pay_scaled=int(self_pay * 10**8),
        ratio_scaled=int(ratio * factor * 10**8),
        deductible_left_fen=deductible,
        cap_left_fen=cap,
    )
    assert scaled == documented_split(amount, self_pay, ratio * factor, deductible, cap)


def test_a_claim_without_diagnoses_costs_one_query_with_the_home_policy_folded_in(releases, home_policy):
    with CaptureQueriesContext(connection) as ctx:
        result = adjudicate(claim((DRUG_A["code"], 1000), (DRUG_B["code"], 2000)))
    assert len(ctx.captured_queries) == 1
    assert result.policy["id"] == home_policy.pk and result.policy["ratio_category_a"] == str(home_policy.ratio_category_a)


def test_a_duplicated_line_number_keeps_each_lines_own_code(releases, home_policy):
    lines = (ClaimLine(line_no=1, code=DRUG_A["code"], amount_fen=100), ClaimLine(line_no=1, code=DRUG_B["code"], amount_fen=100))
    result = adjudicate(replace(claim(), lines=lines))
    assert [(line.code, line.reason_code) for line in result.lines] == [(DRUG_A["code"], "covered"), (DRUG_B["code"], "duplicate_line_no")]


def test_each_code_gets_its_own_items_scope_when_codes_share_one(releases, home_policy):
    # DRUG_A and DRUG_B differ; a separator-bearing code is malformed and must not split the list.
    lines = (
        ClaimLine(line_no=1, code=DRUG_B["code"], amount_fen=1000),
        ClaimLine(line_no=2, code=DRUG_A["code"] + "\x1f" + DRUG_B["code"], amount_fen=1000),
        ClaimLine(line_no=3, code=DRUG_A["code"], amount_fen=1000),
        ClaimLine(line_no=4, code=DRUG_B_DEFAULT["code"], amount_fen=1000),
        ClaimLine(line_no=5, code=DRUG_B["code"], amount_fen=1000),
    )
    result = adjudicate(replace(claim(), lines=lines))
    by_line = {line.line_no: line for line in result.lines}
    assert (by_line[2].covered, by_line[2].reason_code) == (False, "code_format")
    assert [by_line[n].category for n in (1, 3, 4, 5)] == ["02", "01", "02", "02"]
    # 乙 with the item's own 10% self-pay share vs the policy default share.
    assert by_line[1].self_pay_fen == by_line[5].self_pay_fen == 100
    assert by_line[4].self_pay_fen == apply_ratio(1000, home_policy.default_self_pay_ratio)
