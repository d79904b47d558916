"""A benefit policy's detail page: submit, approve and send back as buttons of the people who may
use them, each behind a confirmation step; the reason to send back is stored as given."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.benefits import services
from apps.benefits.models import BenefitPolicy
from apps.benefits.selectors import province_by_code
from tests.benefits.conftest import HOME_POLICY, SICHUAN

pytestmark = pytest.mark.django_db


@pytest.fixture
def submitted(sc_maker):
    policy = services.policy_create_draft(user=sc_maker, province=province_by_code(SICHUAN), **HOME_POLICY)
    return services.policy_submit(policy=policy, user=sc_maker)


def _buttons(client, policy):
    page = client.get(reverse("admin:benefits_benefitpolicy_change", args=[policy.pk])).content.decode()
    return {name for name in ("submit", "approve", "send_back") if f'id="action-{name}"' in page}


def test_the_drafter_sees_no_approve_button(client, submitted, sc_maker):
    client.force_login(sc_maker)
    assert _buttons(client, submitted) == set()


def test_a_colleague_of_the_province_sees_approve_and_send_back(client, submitted, sc_checker):
    client.force_login(sc_checker)
    assert _buttons(client, submitted) == {"approve", "send_back"}


def test_staff_of_another_province_do_not_open_the_policy(client, submitted, sh_staff):
    client.force_login(sh_staff)
    assert client.get(reverse("admin:benefits_benefitpolicy_change", args=[submitted.pk])).status_code == 302


def test_sending_back_keeps_the_reason_as_given(client, submitted, sc_checker):
    client.force_login(sc_checker)
    url = reverse("admin:benefits_benefitpolicy_change", args=[submitted.pk])
    client.post(url, {"_detail_action": "send_back", "reason": "起付线与文件不符"})
    policy = BenefitPolicy.objects.get(pk=submitted.pk)
    assert (policy.status, policy.history.first().history_change_reason) == ("draft", "起付线与文件不符")


def test_the_detail_page_shows_money_in_yuan(client, submitted, sc_checker):
    client.force_login(sc_checker)
    page = client.get(reverse("admin:benefits_benefitpolicy_change", args=[submitted.pk]) + "?action=approve").content.decode()
    assert "¥100.00" in page and "¥500,000.00" in page
