"""Property tests of the risk-adjustment rule over random region figures: contributions are
the configured share (never negative), the pot never exceeds them, allocations never exceed
the pot and add up to it to the fen; and a run over random figures proposes exactly those sums."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.benefits.models import PoolingRegion, Province
from apps.pooling import adjustment, services
from apps.pooling.models import AdjustmentRule, Transfer
from tests.pooling.conftest import SC

FEN = st.integers(min_value=0, max_value=10**13)  # up to 100 billion yuan a month
PEOPLE = st.integers(min_value=0, max_value=30_000_000)
SHARE = st.decimals(min_value=0, max_value=1, places=4)
WEIGHT = st.decimals(min_value=0, max_value=1, places=4)


@st.composite
def units(draw: st.DrawFn, max_units: int = 40) -> list[adjustment.UnitFigures]:
    count = draw(st.integers(min_value=1, max_value=max_units))
    return [
        adjustment.UnitFigures(
            code=f"{i:06d}",
            name=f"region {i}",
            fund_income_fen=draw(FEN),
            fund_expenditure_fen=draw(FEN),
            active_insured=draw(PEOPLE),
            retirees=draw(PEOPLE),
        )
        for i in range(count)
    ]


rules = st.builds(
    adjustment.RuleParameters, contribution_share=SHARE, allocation_share=SHARE, weight_dependency=WEIGHT, weight_deficit=WEIGHT
)


@given(units(), rules)
def test_contributions_are_the_share_of_income_and_never_negative(figures, rule):
    plan = adjustment.plan(figures, rule)
    expected = [int((Decimal(u.fund_income_fen) * rule.contribution_share).quantize(Decimal(1), ROUND_HALF_UP)) for u in figures]
    assert [u.contribution_fen for u in plan.units] == expected and min(expected) >= 0


@given(units(), rules)
def test_the_pot_never_exceeds_the_contributions(figures, rule):
    plan = adjustment.plan(figures, rule)
    assert 0 <= plan.pot_fen <= plan.contributions_fen == sum(u.contribution_fen for u in plan.units)


@given(units(), rules)
def test_allocations_never_exceed_the_pot_and_are_never_negative(figures, rule):
    plan = adjustment.plan(figures, rule)
    allocations = [u.allocation_fen for u in plan.units]
    assert min(allocations) >= 0 and sum(allocations) == plan.allocations_fen <= plan.pot_fen


@given(units(), rules)
def test_allocations_add_up_to_the_pot_whenever_someone_has_weight(figures, rule):
    plan = adjustment.plan(figures, rule)
    weighted = any(u.weight > 0 for u in plan.units)
    assert plan.allocations_fen == (plan.pot_fen if weighted else 0)


@given(units(), rules)
def test_each_allocation_is_within_one_fen_of_its_exact_share(figures, rule):
    plan = adjustment.plan(figures, rule)
    total_weight = sum(u.weight for u in plan.units)
    if total_weight == 0:
        return
    for unit in plan.units:
        exact = Decimal(plan.pot_fen) * unit.weight / total_weight
        assert abs(Decimal(unit.allocation_fen) - exact) < 1


@given(units(max_units=8), rules)
def test_a_unit_with_neither_retirees_nor_deficit_gets_nothing(figures, rule):
    plan = adjustment.plan(figures, rule)
    for unit in plan.units:
        if unit.figures.retirees == 0 and unit.figures.fund_expenditure_fen <= unit.figures.fund_income_fen:
            assert unit.allocation_fen == 0


@pytest.mark.django_db
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    figures=st.lists(st.tuples(FEN, FEN, PEOPLE, PEOPLE), min_size=1, max_size=21),
    share=SHARE,
    pot_share=SHARE,
)
def test_a_run_over_random_sichuan_figures_proposes_what_the_rule_says(people, figures, share, pot_share):
    """Through the services and PostgreSQL: each example in a savepoint that is rolled back."""
    sc = Province.objects.get(code=SC)
    regions = list(PoolingRegion.objects.filter(province=sc).order_by("code")[: len(figures)])
    sid = transaction.savepoint()
    try:
        AdjustmentRule.objects.create(province=sc, contribution_share=share, allocation_share=pot_share, effective_from=dt.date(2026, 1, 1))
        for region, (income, spending, active, retired) in zip(regions, figures, strict=False):
            services.region_figures_put(
                region=region,
                period="2026-03",
                fund_income_fen=income,
                fund_expenditure_fen=spending,
                active_insured=active,
                retirees=retired,
                user=people.sc_maker,
            )
        run, _ = services.adjustment_run(province=sc, period="2026-03")
        transfers = list(Transfer.objects.filter(pk__in=run.transfer_ids).select_related("to_account"))
        contributed = sum(t.amount_fen for t in transfers if t.to_account.kind == "provincial")
        allocated = sum(t.amount_fen for t in transfers if t.to_account.kind == "regional")
        expected = adjustment.plan(
            [adjustment.UnitFigures(r.code, r.name, i, e, a, p) for r, (i, e, a, p) in zip(regions, figures, strict=False)],
            adjustment.RuleParameters(share, pot_share, Decimal("0.5"), Decimal("0.5")),
        )
        assert (contributed, allocated) == (expected.contributions_fen, expected.allocations_fen)
        assert allocated <= run.pot_fen <= contributed and all(t.state == "proposed" for t in transfers)
    finally:
        transaction.savepoint_rollback(sid)
