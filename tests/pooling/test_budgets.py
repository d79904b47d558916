"""Budgets of provinces and pooling regions: budget against actual per month (settled
cross-province amounts for a province, reported cross-regional spending for a region), and an
alert email at the configured share that fires once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import TestCase, override_settings

from apps.benefits.models import PoolingRegion, Province
from apps.core.errors import Forbidden, ValidationFailed
from apps.core.mail import email_send_due
from apps.core.models import OutgoingEmail
from apps.core.roles import Role
from apps.pooling import selectors, services
from apps.pooling.models import PoolingBudget
from tests.factories import staff
from tests.integration.smtp import smtp_server
from tests.pooling.conftest import SC, SH

pytestmark = pytest.mark.django_db
YEAR = 2026


def budget(people: Any, *, province: str = SC, cross: int = 120_000_00, ratio: str | None = None, region: str = "") -> PoolingBudget:
    return services.budget_save(
        province=Province.objects.get(code=province),
        region=PoolingRegion.objects.get(code=region) if region else None,
        year=YEAR,
        expenditure_fen=1_000_000_00,
        cross_regional_fen=cross,
        alert_ratio=Decimal(ratio) if ratio else None,
        user=people.sc_maker if province == SC else people.sh_maker,
    )


def settle(period: str, fund_fen: int) -> None:
    """What a reconciliation run reports (Sichuan's insured cost ``fund_fen`` in Shanghai), and
    what follows its commit (pooling.after_clearing: advances, budget alerts)."""
    with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
        services.clearing_record(period=period, pairs=[(SC, SH, 10, fund_fen)], source="test clearing")


def with_email(user: Any, address: str) -> Any:
    user.email = address
    user.save(update_fields=["email"])
    return user


@pytest.fixture
def recipients(people: Any) -> list[Any]:
    return [with_email(people.sc_maker, "sc-maker@example.org"), with_email(people.sc_checker, "sc-checker@example.org")]


def test_a_budget_is_set_by_a_maker_of_its_province(people):
    saved = budget(people)
    assert (saved.cross_regional_fen, saved.alert_ratio, saved.history.get().history_user) == (120_000_00, Decimal("0.9"), people.sc_maker)


def test_a_maker_of_another_province_cannot_set_it(people):
    with pytest.raises(Forbidden) as refused:
        services.budget_save(
            province=Province.objects.get(code=SC), year=YEAR, expenditure_fen=1, cross_regional_fen=0, user=people.sh_maker
        )
    assert refused.value.code == "wrong_province"


def test_a_checker_does_not_set_budgets(people):
    with pytest.raises(Forbidden):
        services.budget_save(
            province=Province.objects.get(code=SC), year=YEAR, expenditure_fen=1, cross_regional_fen=0, user=people.sc_checker
        )


def test_cross_regional_spending_above_the_expenditure_is_refused(people):
    with pytest.raises(ValidationFailed):
        services.budget_save(
            province=Province.objects.get(code=SC), year=YEAR, expenditure_fen=10, cross_regional_fen=11, user=people.sc_maker
        )


def test_database_refuses_cross_regional_spending_above_the_expenditure(people):
    saved = budget(people)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE pooling_poolingbudget SET cross_regional_fen = expenditure_fen + 1 WHERE id = %s", [saved.pk])


def test_the_year_is_spread_evenly_over_the_months_to_the_fen(people):
    months = selectors.budget_months(budget=budget(people, cross=100_000_01))
    assert (sum(m["budget_fen"] for m in months), months[0]["budget_fen"], months[-1]["budget_to_date_fen"]) == (
        100_000_01,
        8_333_34,
        100_000_01,
    )


def test_a_provinces_actual_is_what_the_clearing_settled_for_its_insured(people):
    saved = budget(people)
    settle("2026-01", 9_000_00)
    settle("2026-02", 11_000_00)
    months = selectors.budget_months(budget=saved)
    assert [m["actual_fen"] for m in months[:3]] == [9_000_00, 11_000_00, None] and months[1]["actual_to_date_fen"] == 20_000_00


def test_a_regions_actual_is_its_reported_cross_regional_spending(people):
    saved = budget(people, region="510100")
    services.region_figures_put(
        region=PoolingRegion.objects.get(code="510100"),
        period="2026-03",
        fund_income_fen=100,
        fund_expenditure_fen=100,
        cross_regional_fen=40,
        active_insured=1,
        retirees=1,
        user=people.sc_maker,
    )
    assert selectors.budget_months(budget=saved)[2]["actual_fen"] == 40


def test_no_alert_below_the_threshold(people, recipients):
    budget(people, cross=100_000_00)
    settle("2026-01", 89_999_99)
    assert not OutgoingEmail.objects.exists()


def test_the_alert_fires_once_when_the_actual_reaches_the_threshold(people, recipients):
    saved = budget(people, cross=100_000_00)
    settle("2026-01", 50_000_00)
    settle("2026-02", 40_000_00)  # 90 %: the alert
    settle("2026-03", 10_000_00)  # past it: nothing new
    with transaction.atomic():
        services.budget_alerts_check(year=YEAR)
    saved.refresh_from_db()
    assert (sorted(OutgoingEmail.objects.values_list("recipient", flat=True)), saved.alerted_at is not None) == (
        ["sc-checker@example.org", "sc-maker@example.org"],
        True,
    )


def test_the_alert_reaches_each_recipient_once_through_smtp(people, recipients):
    budget(people, cross=100_000_00)
    with (
        smtp_server() as (mailbox, port),
        override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=port),
    ):
        for period in ("2026-01", "2026-02", "2026-03"):
            settle(period, 45_000_00)
            email_send_due()
    assert sorted(m["X-Envelope-To"] for m in mailbox.messages) == ["sc-checker@example.org", "sc-maker@example.org"]


def test_the_alert_goes_to_the_provinces_staff_only(people, recipients):
    with_email(people.sh_maker, "sh-maker@example.org")
    budget(people, cross=100)
    settle("2026-01", 100)
    assert "sh-maker@example.org" not in set(OutgoingEmail.objects.values_list("recipient", flat=True))


def test_a_changed_budget_arms_the_alert_again(people, recipients):
    budget(people, cross=100_000_00)
    settle("2026-01", 95_000_00)
    budget(people, cross=100_000_00, ratio="0.95")  # the ratio moved: a new alert when reached
    assert OutgoingEmail.objects.filter(recipient="sc-maker@example.org").count() == 2


def test_an_unchanged_budget_saved_again_does_not_alert_again(people, recipients):
    budget(people, cross=100_000_00)
    settle("2026-01", 95_000_00)
    budget(people, cross=100_000_00)
    assert OutgoingEmail.objects.filter(recipient="sc-maker@example.org").count() == 1


def test_a_provincial_staff_member_is_told_too(people, recipients):
    with_email(staff(Role.PROVINCE_STAFF, SC, username="sc-staff"), "sc-staff@example.org")
    budget(people, cross=100)
    settle("2026-01", 100)
    assert OutgoingEmail.objects.filter(recipient="sc-staff@example.org").exists()
