"""Two people on every policy: draft → submitted → approved; nobody who drafted, edited or
submitted a policy approves it (409 same_user_cannot_approve, before the role check), and
PostgreSQL refuses the same approval written with raw SQL."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from apps.benefits import services
from apps.benefits.selectors import province_by_code
from apps.core.errors import Conflict, Forbidden
from apps.core.models import AuditAction, AuditEvent
from apps.core.roles import Role
from tests.factories import staff

from .conftest import HOME_POLICY, SICHUAN

pytestmark = pytest.mark.django_db


@pytest.fixture
def sc_team(db):
    return [staff(Role.PROVINCE_STAFF, SICHUAN, username=f"sc-staff-{n}") for n in range(4)]


def _drafted_edited_submitted(drafter, editor, submitter):
    policy = services.policy_create_draft(user=drafter, province=province_by_code(SICHUAN), **HOME_POLICY)
    services.policy_update_draft(policy=policy, user=editor, deductible_fen=12_000, reason="deductible per 2027 notice")
    return services.policy_submit(policy=policy, user=submitter)


def _refusal(call):
    with pytest.raises(Conflict) as err:
        call()
    return err.value.code


@pytest.mark.parametrize("who", [0, 1, 2], ids=["drafter", "editor", "submitter"])
def test_nobody_who_took_part_in_a_policy_approves_it(sc_team, who):
    policy = _drafted_edited_submitted(*sc_team[:3])
    assert _refusal(lambda: services.policy_approve(policy=policy, user=sc_team[who])) == "same_user_cannot_approve"


def test_a_colleague_who_took_no_part_approves_a_submitted_policy(sc_team):
    policy = _drafted_edited_submitted(*sc_team[:3])
    assert services.policy_approve(policy=policy, user=sc_team[3]).status == "approved"


def test_a_draft_that_was_not_submitted_is_not_approved(sc_team):
    policy = services.policy_create_draft(user=sc_team[0], province=province_by_code(SICHUAN), **HOME_POLICY)
    assert _refusal(lambda: services.policy_approve(policy=policy, user=sc_team[3])) == "policy_not_submitted"


def test_a_submitted_policy_is_no_longer_edited(sc_team):
    policy = _drafted_edited_submitted(*sc_team[:3])
    assert _refusal(lambda: services.policy_update_draft(policy=policy, user=sc_team[0], note="late change")) == "policy_not_draft"


def test_the_same_user_refusal_comes_before_the_role_check(sc_team, catalog_admin):
    policy = services.policy_create_draft(user=sc_team[0], province=province_by_code(SICHUAN), **HOME_POLICY)
    services.policy_submit(policy=policy, user=sc_team[1])
    policy.participants.create(user=catalog_admin, role="edited")  # e.g. someone whose role changed since
    assert _refusal(lambda: services.policy_approve(policy=policy, user=catalog_admin)) == "same_user_cannot_approve"


def test_a_participant_rejecting_is_refused_and_a_colleague_sends_it_back_to_draft(sc_team):
    policy = _drafted_edited_submitted(*sc_team[:3])
    assert _refusal(lambda: services.policy_reject(policy=policy, user=sc_team[1], reason="mine")) == "same_user_cannot_approve"
    assert services.policy_reject(policy=policy, user=sc_team[3], reason="cap too high").status == "draft"


def test_staff_of_another_province_cannot_submit(sc_team, sh_staff):
    policy = services.policy_create_draft(user=sc_team[0], province=province_by_code(SICHUAN), **HOME_POLICY)
    with pytest.raises(Forbidden) as err:
        services.policy_submit(policy=policy, user=sh_staff)
    assert err.value.code == "wrong_province"


def test_submitting_writes_exactly_one_policy_submitted_event(sc_team):
    policy = services.policy_create_draft(user=sc_team[0], province=province_by_code(SICHUAN), **HOME_POLICY)
    before = AuditEvent.objects.count()
    services.policy_submit(policy=policy, user=sc_team[1])
    assert list(AuditEvent.objects.order_by("id")[before:].values_list("action", flat=True)) == [AuditAction.POLICY_SUBMITTED]


def test_the_database_refuses_an_approver_who_edited_even_with_raw_sql(sc_team):
    policy = _drafted_edited_submitted(*sc_team[:3])
    with pytest.raises(DatabaseError, match="took part in benefit policy"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE benefits_benefitpolicy SET status = 'approved', approved_by_id = %s, approved_at = now() WHERE id = %s",
            [sc_team[1].pk, policy.pk],
        )
