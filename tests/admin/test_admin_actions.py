"""Admin actions call the services; auditors read everything and change nothing."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.core.models import StaffProfile
from apps.core.roles import Role
from apps.hospitals import services
from apps.hospitals.models import ApiKey
from apps.hospitals.selectors import api_key_check
from apps.notices.models import NoticeDelivery
from tests.factories import staff

from .builders import World
from .conftest import OTHER, VIEWER, login

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_issue_key_action_shows_a_working_key_once(provinces):
    hospital = services.hospital_register(code="H31010100001", name="瑞金医院", province_code=VIEWER)
    response = login(staff(Role.PROVINCE_STAFF, VIEWER)).post(
        reverse("admin:hospitals_hospital_changelist"), {"action": "issue_api_key", "_selected_action": [hospital.pk]}
    )
    shown = [key for message in _messages(response) for key in re.findall(r"[A-Za-z0-9]{8,16}\.[A-Za-z0-9_-]{20,}", message)]
    assert [api_key_check(raw=key).status for key in shown] == ["ok"]


def test_key_page_never_shows_the_secret_hash(provinces):
    hospital = services.hospital_register(code="H31010100001", name="瑞金医院", province_code=VIEWER)
    key, _full = services.api_key_issue(hospital=hospital)
    page = login(staff(Role.PROVINCE_STAFF, VIEWER)).get(reverse("admin:hospitals_apikey_change", args=[key.pk]))
    assert (page.status_code, key.secret_sha256.encode() in page.content) == (200, False)


def test_revoke_action_revokes_through_the_service(provinces):
    hospital = services.hospital_register(code="H31010100001", name="瑞金医院", province_code=VIEWER)
    key, full = services.api_key_issue(hospital=hospital)
    login(staff(Role.PROVINCE_STAFF, VIEWER)).post(
        reverse("admin:hospitals_apikey_changelist"), {"action": "revoke", "_selected_action": [key.pk]}
    )
    assert (ApiKey.objects.get(pk=key.pk).revoked_at is not None, api_key_check(raw=full).status) == (True, "revoked")


def test_replay_action_requeues_a_failed_delivery(provinces):
    world = World()
    delivery = world.delivery()
    NoticeDelivery.objects.filter(pk=delivery.pk).update(state="failed", attempts=9)
    login(world.staff()).post(reverse("admin:notices_noticedelivery_changelist"), {"action": "replay", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("pending", 0)


def test_province_user_cannot_replay_another_provinces_delivery(provinces):
    delivery = World().delivery()
    NoticeDelivery.objects.filter(pk=delivery.pk).update(state="failed")
    login(staff(Role.PROVINCE_STAFF, VIEWER)).post(
        reverse("admin:notices_noticedelivery_changelist"), {"action": "replay", "_selected_action": [delivery.pk]}
    )
    assert NoticeDelivery.objects.get(pk=delivery.pk).state == "failed"


def test_auditor_is_offered_no_actions_and_no_add(provinces, auditor):
    client = login(auditor)
    page = client.get(reverse("admin:hospitals_hospital_changelist"))
    assert (page.status_code, page.context["action_form"], page.context["has_add_permission"]) == (200, None, False)


def test_auditor_cannot_run_an_action_by_posting_it(provinces, auditor):
    hospital = services.hospital_register(code="H31010100001", name="瑞金医院", province_code=VIEWER)
    login(auditor).post(reverse("admin:hospitals_hospital_changelist"), {"action": "deactivate", "_selected_action": [hospital.pk]})
    hospital.refresh_from_db()
    assert hospital.active is True


def test_auditor_reads_history_but_cannot_change(provinces, auditor):
    hospital = World().hospital()
    client = login(auditor)
    history = client.get(reverse("admin:hospitals_hospital_history", args=[hospital.pk]))
    change = client.post(reverse("admin:hospitals_hospital_change", args=[hospital.pk]), {"name": "renamed"})
    hospital.refresh_from_db()
    assert (history.status_code, change.status_code, hospital.name) == (200, 403, "四川省人民医院")


def test_history_revert_page_is_disabled(provinces, superuser):
    hospital = World().hospital()
    record = hospital.history.first()
    page = login(superuser).post(
        reverse("admin:hospitals_hospital_simple_history", args=[hospital.pk, record.history_id]), {"name": "reverted"}
    )
    assert page.status_code in (403, 404) or page.context.get("revert_disabled") is True


def test_role_change_in_admin_goes_through_staff_set_role(provinces, superuser):
    user = staff(Role.PROVINCE_STAFF, OTHER, username="moving")
    profile = user.staff_profile
    login(superuser).post(reverse("admin:core_staffprofile_change", args=[profile.pk]), {"role": "finance_maker", "province_code": OTHER})
    user.refresh_from_db()
    assert (StaffProfile.objects.get(pk=profile.pk).role, [g.name for g in user.groups.all()]) == ("finance_maker", ["finance_maker"])


def test_province_staff_without_province_is_refused_in_admin(provinces, superuser):
    profile = staff(Role.AUDITOR, username="reader").staff_profile
    page = login(superuser).post(
        reverse("admin:core_staffprofile_change", args=[profile.pk]), {"role": "province_staff", "province_code": ""}
    )
    assert (page.status_code, StaffProfile.objects.get(pk=profile.pk).role) == (200, "auditor")


def test_finance_role_without_province_makes_a_national_finance_user_in_admin(provinces, superuser):
    profile = staff(Role.AUDITOR, username="reader").staff_profile
    login(superuser).post(reverse("admin:core_staffprofile_change", args=[profile.pk]), {"role": "finance_checker", "province_code": ""})
    profile.refresh_from_db()
    assert (profile.role, profile.province_code) == ("finance_checker", "")


def test_home_page_links_the_staff_pages_this_role_may_open(provinces, catalog_admin):
    page = login(catalog_admin).get(reverse("admin:index")).content.decode()
    shown = {
        name: reverse(name) in page for name in ("staff:home", "notices:adoption", "admin:pooling_overview", "admin:benefits_simulate")
    }
    assert shown == {"staff:home": True, "notices:adoption": True, "admin:pooling_overview": False, "admin:benefits_simulate": False}


def test_the_header_links_the_account_statements_for_money_readers_only(provinces, catalog_admin):
    """The statement page is in every admin page's header for a finance user, not for a catalog role."""
    statements = reverse("pooling:statements")
    finance = staff(Role.FINANCE_MAKER, OTHER, username="maker")
    pages = {who.username: login(who).get(reverse("admin:index")).content.decode() for who in (finance, catalog_admin)}
    assert {name: f'href="{statements}"' in page for name, page in pages.items()} == {"maker": True, catalog_admin.username: False}


def test_admin_speaks_chinese_by_default_and_english_on_request(catalog_admin):
    client = login(catalog_admin)
    chinese = client.get(reverse("admin:index")).content.decode()
    client.post(reverse("set_language"), {"language": "en", "next": "/admin/"})
    english = client.get(reverse("admin:index")).content.decode()
    assert ("全国医保目录管理平台" in chinese, "National catalog governance portal" in english) == (True, True)
