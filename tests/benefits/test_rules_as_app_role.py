"""The pre-check's rules guarded in PostgreSQL as the role the application connects as (one that
owns nothing): published DRG tables, who approves them, disease terms of approved policies and
approved daily doses stay as they are under raw SQL; the pre-check itself runs as that role."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

from apps.benefits import services
from apps.benefits.adjudication import adjudicate
from apps.benefits.models import Disease
from apps.benefits.selectors import province_by_code
from apps.core.roles import Role
from tests.factories import published_release, staff
from tests.security import test_db_invariants_as_app_role as as_app_role

from .conftest import DRUG_A, HOME_POLICY, SICHUAN
from .rules import DRG_AREA_HOSPITAL, line, rules_claim

# The app-role fixtures and helpers of tests/security, shared rather than copied.
app_role, app_sql = as_app_role.app_role, as_app_role.app_sql
committed, django_connected_as, refused, TRIGGER = (
    as_app_role.committed,
    as_app_role.django_connected_as,
    as_app_role.refused,
    as_app_role.TRIGGER,
)
CHECK = "23514"


def _published_table() -> Any:
    admin = staff(Role.CATALOG_ADMIN, username="role-drg-admin")
    reviewer = staff(Role.CATALOG_REVIEWER, username="role-drg-reviewer")
    table = services.drg_version_create(user=admin, label="DRG-ROLE", effective_from=dt.date(2025, 1, 1))
    services.drg_groups_import(version=table, user=admin, stream=io.BytesIO(b"code,name,weight\nGB21,x,1.5\n"))
    services.drg_area_rates_import(
        version=table, user=admin, stream=io.BytesIO(b"area_code,base_rate_fen,out_of_town_from\n310100,1000000,2025-01-01\n")
    )
    services.drg_version_submit(version=table, user=admin)
    services.drg_version_approve(version=table, user=reviewer)
    return services.drg_version_publish(version=table, user=admin)


@committed
def test_the_app_role_cannot_change_a_published_drg_table(app_sql):
    table = _published_table()
    refused(app_sql, ("UPDATE benefits_drggroup SET weight = 9 WHERE version_id = %s", [table.pk]), sqlstate=TRIGGER)
    refused(app_sql, ("UPDATE benefits_drgarearate SET base_rate_fen = 1 WHERE version_id = %s", [table.pk]), sqlstate=TRIGGER)
    refused(app_sql, ("UPDATE benefits_drgversion SET effective_from = '2024-01-01' WHERE id = %s", [table.pk]), sqlstate=TRIGGER)


@committed
def test_the_app_role_cannot_approve_a_drg_table_as_one_of_its_editors(app_sql):
    admin = staff(Role.CATALOG_ADMIN, username="role-drg-editor")
    table = services.drg_version_create(user=admin, label="DRG-EDIT", effective_from=dt.date(2026, 1, 1))
    statement = "UPDATE benefits_drgversion SET status = 'approved', approved_by_id = %s, approved_at = now() WHERE id = %s"
    refused(app_sql, (statement, [admin.pk, table.pk]), sqlstate=CHECK)


@committed
def test_the_app_role_cannot_change_the_disease_terms_of_an_approved_policy(app_sql):
    maker = staff(Role.PROVINCE_STAFF, SICHUAN, username="role-terms-maker")
    checker = staff(Role.PROVINCE_STAFF, SICHUAN, username="role-terms-checker")
    policy = services.policy_create_draft(
        user=maker, province=province_by_code(SICHUAN), **{**HOME_POLICY, "setting": "chronic_outpatient"}
    )
    services.policy_disease_terms_set(policy=policy, user=maker, terms=[{"disease": "diabetes", "ratio": Decimal("0.7")}])
    services.policy_submit(policy=policy, user=policy.created_by)
    services.policy_approve(policy=policy, user=checker)
    other = Disease.objects.get(province__isnull=True, code="hypertension")
    refused(app_sql, ("UPDATE benefits_policydiseaseterm SET ratio = 1 WHERE policy_id = %s", [policy.pk]), sqlstate=TRIGGER)
    refused(
        app_sql,
        ("INSERT INTO benefits_policydiseaseterm (policy_id, disease_id, ratio) VALUES (%s, %s, 1)", [policy.pk, other.pk]),
        sqlstate=TRIGGER,
    )


@committed
def test_the_app_role_cannot_rewrite_an_approved_daily_dose(app_sql):
    admin = staff(Role.CATALOG_ADMIN, username="role-dose-admin")
    reviewer = staff(Role.CATALOG_REVIEWER, username="role-dose-reviewer")
    dose = services.daily_dose_approve(dose=services.daily_dose_propose(user=admin, code=DRUG_A["code"], units_per_day="1"), user=reviewer)
    refused(app_sql, ("UPDATE benefits_dailydose SET units_per_day = 100 WHERE id = %s", [dose.pk]), sqlstate=TRIGGER)


@committed
def test_the_pre_check_runs_as_the_app_role_with_its_prepared_statement(app_role):
    admin = staff(Role.CATALOG_ADMIN, username="role-pc-admin")
    reviewer = staff(Role.CATALOG_REVIEWER, username="role-pc-reviewer")
    published_release(label="2025.PC", effective_from=dt.date(2025, 1, 1), admin=admin, reviewer=reviewer, items=[DRUG_A])
    maker = staff(Role.PROVINCE_STAFF, SICHUAN, username="role-pc-maker")
    checker = staff(Role.PROVINCE_STAFF, SICHUAN, username="role-pc-checker")
    policy = services.policy_create_draft(user=maker, province=province_by_code(SICHUAN), **HOME_POLICY)
    services.policy_submit(policy=policy, user=maker)
    services.policy_approve(policy=policy, user=checker)
    _published_table()
    with django_connected_as(app_role):
        results = [
            adjudicate(rules_claim(line(DRUG_A["code"], amount), hospital_code=DRG_AREA_HOSPITAL, drg_group="GB21"))
            for amount in (10_000, 20_000)
        ]
    assert [(r.lines[0].payable_fen, r.drg["hospital_payment_fen"]) for r in results] == [(9_000, 1_500_000), (18_000, 1_500_000)]  # type: ignore[index]
