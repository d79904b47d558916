"""Policy workflow: draft -> approve by another person of the province; no overlaps; history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from apps.benefits import services
from apps.benefits.models import BenefitPolicy
from apps.benefits.selectors import policy_in_force, province_by_code
from apps.core.errors import Conflict, Forbidden, ValidationFailed

from .conftest import HOME_POLICY, JAN_2025, JAN_2026, SHANGHAI, SICHUAN, approved_policy

pytestmark = pytest.mark.django_db


def draft(maker, **overrides):
    return services.policy_create_draft(user=maker, province=province_by_code(SICHUAN), **{**HOME_POLICY, **overrides})


def test_approval_by_the_person_who_drafted_is_refused(sc_maker):
    with pytest.raises(Conflict) as err:
        services.policy_approve(policy=draft(sc_maker), user=sc_maker)
    assert err.value.code == "same_user_cannot_approve"


def test_database_refuses_approver_equal_to_creator_even_without_service(sc_maker):
    policy = draft(sc_maker)
    with pytest.raises(IntegrityError), transaction.atomic():
        BenefitPolicy.objects.filter(pk=policy.pk).update(approved_by=sc_maker)


def test_staff_of_another_province_cannot_approve(sc_maker, sh_staff):
    with pytest.raises(Forbidden) as err:
        services.policy_approve(policy=draft(sc_maker), user=sh_staff)
    assert err.value.code == "wrong_province"


def test_staff_cannot_draft_for_another_province(sh_staff):
    with pytest.raises(Forbidden) as err:
        draft(sh_staff)
    assert err.value.code == "wrong_province"


def test_catalog_admin_cannot_keep_policies(catalog_admin):
    with pytest.raises(Forbidden):
        draft(catalog_admin)


def test_ratio_above_one_is_refused_naming_the_field(sc_maker):
    with pytest.raises(ValidationFailed) as err:
        draft(sc_maker, ratio_category_a=Decimal("1.2"))
    assert err.value.errors[0]["field"] == "ratio_category_a"


def test_approving_a_successor_closes_the_open_predecessor(sc_maker, sc_checker):
    first = approved_policy(SICHUAN, sc_maker, sc_checker)
    approved_policy(SICHUAN, sc_maker, sc_checker, effective_from=JAN_2026, ratio_category_a=Decimal("0.95"))
    first.refresh_from_db()
    assert first.effective_to == JAN_2026


def test_policy_in_force_switches_on_the_successors_first_day(sc_maker, sc_checker):
    approved_policy(SICHUAN, sc_maker, sc_checker)
    approved_policy(SICHUAN, sc_maker, sc_checker, effective_from=JAN_2026, ratio_category_a=Decimal("0.95"))
    ratios = [
        policy_in_force(province_code=SICHUAN, scheme="employee", setting="inpatient", hospital_level="3A", on_date=day).ratio_category_a
        for day in (dt.date(2025, 12, 31), JAN_2026)
    ]
    assert ratios == [Decimal("0.9"), Decimal("0.95")]


def test_overlapping_approval_is_refused_with_policy_overlap(sc_maker, sc_checker):
    approved_policy(SICHUAN, sc_maker, sc_checker, effective_to=JAN_2026)
    with pytest.raises(Conflict) as err:
        approved_policy(SICHUAN, sc_maker, sc_checker, effective_from=dt.date(2025, 6, 1))
    assert err.value.code == "policy_overlap"


def test_database_exclusion_constraint_refuses_overlapping_approved_policies(sc_maker, sc_checker):
    approved_policy(SICHUAN, sc_maker, sc_checker)
    second = draft(sc_maker, effective_from=dt.date(2025, 6, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        BenefitPolicy.objects.filter(pk=second.pk).update(status="approved", approved_by=sc_checker)


def test_overlap_is_allowed_for_another_hospital_level(sc_maker, sc_checker):
    approved_policy(SICHUAN, sc_maker, sc_checker)
    approved_policy(SICHUAN, sc_maker, sc_checker, hospital_level="3A")
    assert BenefitPolicy.objects.filter(status="approved").count() == 2


def test_hospital_level_policy_wins_over_the_all_levels_policy(sc_maker, sc_checker):
    approved_policy(SICHUAN, sc_maker, sc_checker)
    approved_policy(SICHUAN, sc_maker, sc_checker, hospital_level="3A", ratio_category_a=Decimal("0.85"))
    found = policy_in_force(province_code=SICHUAN, scheme="employee", setting="inpatient", hospital_level="3A", on_date=JAN_2025)
    assert found.ratio_category_a == Decimal("0.85")


def test_approved_policy_cannot_be_edited_through_the_service(sc_maker, sc_checker):
    policy = approved_policy(SICHUAN, sc_maker, sc_checker)
    with pytest.raises(Conflict) as err:
        services.policy_update_draft(policy=policy, user=sc_maker, deductible_fen=0)
    assert err.value.code == "policy_not_draft"


def test_database_refuses_changing_an_approved_policys_money(sc_maker, sc_checker):
    policy = approved_policy(SICHUAN, sc_maker, sc_checker)
    with pytest.raises(IntegrityError), transaction.atomic():
        BenefitPolicy.objects.filter(pk=policy.pk).update(deductible_fen=1)


def test_database_refuses_deleting_an_approved_policy(sc_maker, sc_checker):
    policy = approved_policy(SICHUAN, sc_maker, sc_checker)
    with pytest.raises(IntegrityError), transaction.atomic():
        BenefitPolicy.objects.filter(pk=policy.pk).delete()


def test_history_records_who_drafted_submitted_and_approved(sc_maker, sc_checker):
    policy = approved_policy(SICHUAN, sc_maker, sc_checker)
    rows = list(policy.history.order_by("history_id").values_list("history_user__username", "history_change_reason", "status"))
    assert rows == [("sc-maker", "drafted", "draft"), ("sc-maker", "submitted", "submitted"), ("sc-checker", "approved", "approved")]


def test_shanghai_staff_keep_shanghai_policies(sh_staff, sh_checker):
    policy = approved_policy(SHANGHAI, sh_staff, sh_checker)
    assert (policy.province.code, policy.approved_by) == (SHANGHAI, sh_checker)
