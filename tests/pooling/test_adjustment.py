import datetime as dt
from decimal import Decimal

import pytest

from apps.benefits.models import PoolingRegion, Province
from apps.pooling import services
from apps.pooling.models import AdjustmentRule
from tests.pooling.conftest import SC

pytestmark = pytest.mark.django_db
PERIOD = "2026-01"


@pytest.fixture
def rule(people):
    sc = Province.objects.get(code=SC)
    AdjustmentRule.objects.create(
        province=sc,
        contribution_share=Decimal("0.05"),
        weight_dependency=Decimal("0.5"),
        weight_deficit=Decimal("0.5"),
        effective_from=dt.date(2026, 1, 1),
    )
    # Chengdu: young and in surplus; Zigong: old and in deficit.
    services.region_figures_put(
        region=PoolingRegion.objects.get(code="510100"),
        period=PERIOD,
        fund_income_fen=1_000_000_00,
        fund_expenditure_fen=800_000_00,
        active_insured=300_000,
        retirees=100_000,
        user=people.sc_maker,
    )
    services.region_figures_put(
        region=PoolingRegion.objects.get(code="510300"),
        period=PERIOD,
        fund_income_fen=100_000_01,
        fund_expenditure_fen=150_000_00,
        active_insured=50_000,
        retirees=60_000,
        user=people.sc_maker,
    )
    return sc


def test_contributions_are_the_configured_share_of_fund_income(rule):
    plan = {row["region"].code: row for row in services.adjustment_plan(province=rule, period=PERIOD)}
    assert (plan["510100"]["contribution_fen"], plan["510300"]["contribution_fen"]) == (50_000_00, 5_000_00)


def test_allocations_share_out_the_pot_to_the_fen(rule):
    plan = services.adjustment_plan(province=rule, period=PERIOD)
    assert sum(r["allocation_fen"] for r in plan) == sum(r["contribution_fen"] for r in plan)


def test_old_region_in_deficit_receives_more_than_it_pays(rule):
    plan = {row["region"].code: row for row in services.adjustment_plan(province=rule, period=PERIOD)}
    assert plan["510300"]["allocation_fen"] > plan["510300"]["contribution_fen"]
    assert plan["510100"]["allocation_fen"] < plan["510100"]["contribution_fen"]


def test_rule_produces_proposed_transfers_that_still_need_approval(rule):
    transfers = services.adjustment_propose(province=rule, period=PERIOD)
    assert {t.state for t in transfers} == {"proposed"} and len(transfers) == 4


def test_rerun_of_a_period_proposes_nothing_new(rule):
    first = services.adjustment_propose(province=rule, period=PERIOD)
    again = services.adjustment_propose(province=rule, period=PERIOD)
    assert [t.pk for t in again] == [t.pk for t in first]


def test_contributions_then_allocations_post_after_approval(rule, people):
    from apps.pooling import selectors
    from tests.pooling.conftest import account, fund

    fund(account("regional", region="510100"), 1_000_000_00, people)
    fund(account("regional", region="510300"), 100_000_01, people)
    transfers = services.adjustment_propose(province=rule, period=PERIOD)
    contributions = [t for t in transfers if t.to_account.kind == "provincial"]
    allocations = [t for t in transfers if t.from_account.kind == "provincial"]
    for transfer in contributions + allocations:
        services.transfer_approve(transfer=transfer, approver=people.sc_checker)
    assert (account("provincial", SC).balance_fen, selectors.ledger_total_fen()) == (0, 0)
