"""Risk-adjustment runs: regions ↔ provincial fund and provinces ↔ national fund, proposals
through maker-checker, reruns that propose nothing new, corrections, permissions."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from apps.benefits.models import PoolingRegion, Province
from apps.core.errors import Conflict, Forbidden, NotFound
from apps.core.models import AuditEvent
from apps.core.roles import Role
from apps.pooling import adjustment, selectors, services
from apps.pooling.models import AdjustmentRule, AdjustmentRun, Transfer
from tests.pooling.conftest import SC, SH, account, fund, national_finance

pytestmark = pytest.mark.django_db
PERIOD = "2026-01"
CHENGDU, ZIGONG = "510100", "510300"


def put(code: str, income: int, spending: int, active: int, retired: int, user, period: str = PERIOD):
    return services.region_figures_put(
        region=PoolingRegion.objects.get(code=code),
        period=period,
        fund_income_fen=income,
        fund_expenditure_fen=spending,
        active_insured=active,
        retirees=retired,
        user=user,
    )


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
    put(CHENGDU, 1_000_000_00, 800_000_00, 300_000, 100_000, people.sc_maker)
    put(ZIGONG, 100_000_01, 150_000_00, 50_000, 60_000, people.sc_maker)
    return sc


def rows(run: AdjustmentRun) -> dict[str, dict]:
    return {row["code"]: row for row in run.rows}


def test_contributions_are_the_configured_share_of_fund_income(rule):
    run, _ = services.adjustment_run(province=rule, period=PERIOD)
    assert (rows(run)[CHENGDU]["contribution_fen"], rows(run)[ZIGONG]["contribution_fen"]) == (50_000_00, 5_000_00)


def test_allocations_share_out_the_pot_to_the_fen(rule):
    run, _ = services.adjustment_run(province=rule, period=PERIOD)
    assert sum(r["allocation_fen"] for r in run.rows) == run.pot_fen == run.contributions_fen


def test_old_region_in_deficit_receives_more_than_it_pays(rule):
    run, _ = services.adjustment_run(province=rule, period=PERIOD)
    zigong, chengdu = rows(run)[ZIGONG], rows(run)[CHENGDU]
    assert zigong["allocation_fen"] > zigong["contribution_fen"] and chengdu["allocation_fen"] < chengdu["contribution_fen"]


def test_the_run_keeps_the_formula_the_parameters_and_every_units_inputs(rule):
    run, _ = services.adjustment_run(province=rule, period=PERIOD)
    zigong = rows(run)[ZIGONG]
    assert (run.formula, run.parameters["contribution_share"], zigong["retirees"], zigong["deficit_fen"], zigong["dependency_ratio"]) == (
        adjustment.FORMULA,
        "0.0500",
        60_000,
        49_999_99,
        "1.2000",
    )


def test_a_run_proposes_transfers_that_still_need_approval(rule):
    run, created = services.adjustment_run(province=rule, period=PERIOD)
    assert created and set(Transfer.objects.filter(pk__in=run.transfer_ids).values_list("state", flat=True)) == {"proposed"}
    assert len(run.transfer_ids) == 4


def test_rerun_on_the_same_figures_proposes_nothing_new(rule):
    first, _ = services.adjustment_run(province=rule, period=PERIOD)
    count = Transfer.objects.count()
    again, created = services.adjustment_run(province=rule, period=PERIOD)
    assert (again.pk, created, Transfer.objects.count()) == (first.pk, False, count)


def test_rerun_after_a_correction_voids_the_unapproved_proposals_and_proposes_anew(rule, people):
    first, _ = services.adjustment_run(province=rule, period=PERIOD)
    put(ZIGONG, 120_000_00, 150_000_00, 50_000, 60_000, people.sc_maker)
    second, created = services.adjustment_run(province=rule, period=PERIOD)
    first.refresh_from_db()
    voided = set(Transfer.objects.filter(pk__in=first.transfer_ids).values_list("state", flat=True))
    assert (created, first.state, voided, rows(second)[ZIGONG]["contribution_fen"]) == (True, "superseded", {"voided"}, 6_000_00)


def test_rerun_after_a_correction_is_refused_once_money_moved(rule, people):
    fund(account("regional", region=CHENGDU), 1_000_000_00, people)
    first, _ = services.adjustment_run(province=rule, period=PERIOD)
    services.transfer_approve(transfer=Transfer.objects.get(pk=first.transfer_ids[0]), approver=people.sc_checker)
    put(ZIGONG, 120_000_00, 150_000_00, 50_000, 60_000, people.sc_maker)
    with pytest.raises(Conflict) as refused:
        services.adjustment_run(province=rule, period=PERIOD)
    assert refused.value.code == "adjustment_already_posted"


def test_contributions_then_allocations_post_after_approval(rule, people):
    fund(account("regional", region=CHENGDU), 1_000_000_00, people)
    fund(account("regional", region=ZIGONG), 100_000_01, people)
    run, _ = services.adjustment_run(province=rule, period=PERIOD)
    transfers = list(Transfer.objects.filter(pk__in=run.transfer_ids).select_related("to_account", "from_account"))
    contributions = [t for t in transfers if t.to_account.kind == "provincial"]
    allocations = [t for t in transfers if t.from_account.kind == "provincial"]
    for transfer in contributions + allocations:
        services.transfer_approve(transfer=transfer, approver=people.sc_checker)
    assert (account("provincial", SC).balance_fen, selectors.ledger_total_fen()) == (0, 0)


def test_a_run_writes_one_adjustment_event(rule):
    run, _ = services.adjustment_run(province=rule, period=PERIOD)
    assert AuditEvent.objects.filter(action="adjustment.proposed", object_id=str(run.pk)).count() == 1


@pytest.fixture
def national_rule(rule, people):
    AdjustmentRule.objects.create(province=None, contribution_share=Decimal("0.02"), effective_from=dt.date(2025, 1, 1))
    services.region_figures_put(
        province=Province.objects.get(code=SH),
        period=PERIOD,
        fund_income_fen=5_000_000_00,
        fund_expenditure_fen=3_000_000_00,
        active_insured=10_000_000,
        retirees=4_000_000,
        user=people.sh_maker,
    )


def test_the_national_run_adds_up_each_provinces_regions(national_rule):
    run, _ = services.adjustment_run(period=PERIOD)
    sichuan = rows(run)[SC]
    assert (sichuan["fund_income_fen"], sichuan["retirees"], sorted(rows(run))) == (1_100_000_01, 160_000, [SH, SC])


def test_the_national_run_moves_money_between_provincial_funds_and_the_national_fund(national_rule):
    run, _ = services.adjustment_run(period=PERIOD)
    transfers = Transfer.objects.filter(pk__in=run.transfer_ids).select_related("from_account", "to_account")
    kinds = {(t.from_account.kind, t.to_account.kind) for t in transfers}
    assert kinds == {("provincial", "national"), ("national", "provincial")}


def test_a_province_bound_maker_cannot_run_another_provinces_adjustment(rule, people):
    with pytest.raises(Forbidden) as refused:
        services.adjustment_run(province=rule, period=PERIOD, user=people.sh_maker)
    assert refused.value.code == "wrong_province"


def test_a_province_bound_maker_cannot_run_the_national_adjustment(national_rule, people):
    with pytest.raises(Forbidden) as refused:
        services.adjustment_run(period=PERIOD, user=people.sc_maker)
    assert refused.value.code == "permission_denied"


def test_a_finance_user_without_a_province_runs_the_national_adjustment(national_rule):
    national_maker = national_finance(Role.FINANCE_MAKER, "nat-maker")
    run, created = services.adjustment_run(period=PERIOD, user=national_maker)
    assert (created, run.started_by) == (True, national_maker)


def test_a_unified_province_has_no_regional_adjustment(rule):
    Province.objects.filter(pk=rule.pk).update(pooling_model=Province.PoolingModel.UNIFIED)
    rule.refresh_from_db()
    with pytest.raises(Conflict) as refused:
        services.adjustment_run(province=rule, period=PERIOD)
    assert refused.value.code == "province_unified"


def test_a_period_without_a_rule_in_force_is_rule_unknown(rule):
    with pytest.raises(NotFound) as refused:
        services.adjustment_run(province=rule, period="2025-12")
    assert refused.value.code == "rule_unknown"


def test_database_refuses_a_run_that_allocates_more_than_its_pot(rule):
    run, _ = services.adjustment_run(province=rule, period=PERIOD)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE pooling_adjustmentrun SET allocations_fen = pot_fen + 1 WHERE id = %s", [run.pk])


def test_the_monthly_schedule_runs_every_province_with_a_rule_and_figures_then_the_national_fund(
    national_rule, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        jobs = services.adjustment_schedule(period=PERIOD)
    runs = AdjustmentRun.objects.filter(period=PERIOD, state="succeeded")
    assert (len(jobs), sorted(run.scope_code for run in runs)) == (2, [SC, "national"])
