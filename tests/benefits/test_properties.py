"""Property tests: payable + patient = amount on every line, whatever the policy and lines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.benefits.adjudication import Claim, ClaimLine, adjudicate, settle_line

from .conftest import DRUG_A, DRUG_B, DRUG_B_DEFAULT, DRUG_C, LOCAL_CODE, SHANGHAI, SICHUAN

ratios = st.decimals(min_value=0, max_value=1, places=4)
fen = st.integers(min_value=0, max_value=10**12)


@given(amount=fen, self_pay=ratios, ratio=ratios, factor=ratios, deductible=fen, cap=fen)
def test_settled_line_splits_the_amount_exactly(amount, self_pay, ratio, factor, deductible, cap):
    split = settle_line(amount_fen=amount, self_pay_ratio=self_pay, ratio=ratio * factor, deductible_left_fen=deductible, cap_left_fen=cap)
    assert split.payable_fen + split.patient_fen == amount
    assert 0 <= split.payable_fen <= min(amount, cap)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(
        st.tuples(st.sampled_from([DRUG_A["code"], DRUG_B["code"], DRUG_B_DEFAULT["code"], DRUG_C["code"], LOCAL_CODE, "BAD"]), fen),
        min_size=1,
        max_size=30,
    ),
    deductible_used=st.integers(min_value=0, max_value=20_000),
    paid_ytd=st.integers(min_value=0, max_value=60_000_000),
    registered=st.booleans(),
)
def test_every_adjudicated_line_splits_its_amount_exactly(
    releases, home_policy, shanghai_local_item, lines, deductible_used, paid_ytd, registered
):
    claim = Claim(
        home_province=SICHUAN,
        destination_province=SHANGHAI,
        date_of_service=dt.date(2025, 6, 30),
        scheme="employee",
        setting="inpatient",
        hospital_level="3A",
        registered=registered,
        deductible_used_fen=deductible_used,
        fund_paid_ytd_fen=paid_ytd,
        lines=tuple(ClaimLine(line_no=n, code=code, amount_fen=amount, quantity=Decimal(1)) for n, (code, amount) in enumerate(lines, 1)),
    )
    result = adjudicate(claim)
    assert all(line.payable_fen + line.patient_fen == line.amount_fen and line.payable_fen >= 0 for line in result.lines)
    assert result.totals["payable_fen"] <= max(home_policy.annual_cap_fen - paid_ytd, 0)


@given(amount=fen, ratio=ratios, factor=ratios)
def test_integer_ratio_rounding_equals_the_money_helper(amount, ratio, factor):
    from apps.benefits.adjudication import ratio_of
    from apps.core.money import apply_ratio

    assert ratio_of(amount, ratio * factor) == apply_ratio(amount, ratio * factor)
