"""Properties of the pre-check's rules: payable + patient = amount on every line whatever the
restrictions, cuts never exceed the amount, and the DRG amounts are consistent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.benefits.adjudication import ClaimLine, adjudicate, line_cuts
from apps.core.money import apply_ratio

from .conftest import DRUG_A, DRUG_B, DRUG_C
from .rules import (
    DOSED_3_DAYS,
    DRG_AREA_HOSPITAL,
    INDICATED,
    ISSUE_DRUG,
    MAX_3_DAYS,
    OTHER_AREA_HOSPITAL,
    STANDARD,
    STANDARD_B,
    rules_claim,
)

fen = st.integers(min_value=0, max_value=10**10)
quantities = st.decimals(min_value=0, max_value=1000, places=4)
days = st.one_of(st.none(), st.integers(min_value=1, max_value=3660))


@given(
    amount=fen,
    quantity=quantities,
    days=days,
    max_days=st.one_of(st.none(), st.integers(min_value=1, max_value=365)),
    dose=st.one_of(st.none(), st.decimals(min_value=Decimal("0.0001"), max_value=100, places=4)),
    standard=st.one_of(st.none(), st.integers(min_value=0, max_value=10**7)),
)
def test_cuts_split_the_amount_exactly_and_never_go_negative(amount, quantity, days, max_days, dose, standard):
    cuts = line_cuts(amount_fen=amount, quantity=quantity, days=days, max_days=max_days, units_per_day=dose, standard_fen=standard)
    assert cuts.eligible_fen + cuts.over_max_days_fen + cuts.over_standard_fen == amount
    assert min(cuts) >= 0


@given(amount=fen, quantity=quantities, standard=st.integers(min_value=0, max_value=10**7))
def test_a_line_at_or_below_its_standard_is_never_cut(amount, quantity, standard):
    cap = apply_ratio(standard, quantity)
    cuts = line_cuts(amount_fen=min(amount, cap), quantity=quantity, days=None, max_days=None, units_per_day=None, standard_fen=standard)
    assert cuts.over_standard_fen == 0


CODES = [DRUG_A, DRUG_B, DRUG_C, INDICATED, MAX_3_DAYS, DOSED_3_DAYS, STANDARD, ISSUE_DRUG, STANDARD_B]


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(st.tuples(st.sampled_from([c["code"] for c in CODES]), fen, quantities, days), min_size=1, max_size=25),
    diagnoses=st.lists(st.sampled_from(["E11.900", "E12.900", "C34.100", "K35.800", "I10.000"]), max_size=3),
    deductible_used=st.integers(min_value=0, max_value=20_000),
    paid_ytd=st.integers(min_value=0, max_value=60_000_000),
    hospital=st.sampled_from([DRG_AREA_HOSPITAL, OTHER_AREA_HOSPITAL]),
    group=st.sampled_from(["GB21", "ES31", ""]),
)
def test_every_line_splits_its_amount_exactly_and_drg_amounts_are_consistent(
    rules_release, critical_term, drg_table, lines, diagnoses, deductible_used, paid_ytd, hospital, group
):
    claim = rules_claim(
        *(
            ClaimLine(line_no=n, code=code, amount_fen=amount, quantity=quantity, days=day)
            for n, (code, amount, quantity, day) in enumerate(lines, 1)
        ),
        diagnoses=tuple(diagnoses),
        deductible_used_fen=deductible_used,
        fund_paid_ytd_fen=paid_ytd,
        hospital_code=hospital,
        drg_group=group,
    )
    result = adjudicate(claim)
    for decided in result.lines:
        assert decided.payable_fen + decided.patient_fen == decided.amount_fen
        assert decided.payable_fen >= 0 and decided.over_standard_fen >= 0 and decided.over_max_days_fen >= 0
        assert decided.over_standard_fen + decided.over_max_days_fen + decided.payable_fen <= decided.amount_fen
    if result.drg is not None:
        drg = result.drg
        assert drg["hospital_payment_fen"] == apply_ratio(drg["base_rate_fen"], Decimal(drg["weight"]))
        assert drg["fund_payment_fen"] == max(drg["hospital_payment_fen"] - result.totals["patient_fen"], 0)
        assert (hospital, bool(group)) == (DRG_AREA_HOSPITAL, True)
    else:
        assert hospital == OTHER_AREA_HOSPITAL or not group
