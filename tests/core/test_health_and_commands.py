import io

import pytest
from django.core.management import call_command

from apps.core.models import StaffProfile, StaffToken

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_broker_to_staff(admin_client):
    from django.db import connection

    body = admin_client.get("/healthz").json()
    assert body["ok"] is True
    major = connection.pg_version // 10000  # e.g. 150004 -> 15
    assert (body["database"]["ok"], body["database"]["server_version"].split(".")[0]) == (True, str(major))
    assert body["broker"]["ok"] is True


def test_healthz_reports_an_unreachable_broker_as_503(admin_client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = admin_client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False


def test_healthz_with_real_redis_broker(admin_client, settings, redis_url):
    settings.CELERY_BROKER_URL = redis_url
    assert admin_client.get("/healthz").json()["broker"] == {"ok": True, "mode": "broker"}


def test_create_staff_and_issue_token(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    out = io.StringIO()
    call_command("create_staff", "zhang", "--role", "finance_checker", "--province", "310000", "--password-stdin", stdout=out)
    assert "password" not in out.getvalue()
    profile = StaffProfile.objects.get(user__username="zhang")
    assert (profile.role, profile.province_code) == ("finance_checker", "310000")
    assert profile.user.check_password("a long enough password")
    token_out = io.StringIO()
    call_command("issue_token", "zhang", stdout=token_out)
    assert StaffToken.objects.filter(user=profile.user).count() == 1


def test_provincial_role_without_province_is_refused():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("create_staff", "li", "--role", "province_staff")


def test_role_changes_are_recorded_in_history():
    from apps.core.services import staff_create, staff_set_role

    user = staff_create(username="wang", role="auditor")
    staff_set_role(user=user, role="catalog_admin", reason="promoted")
    assert [h.role for h in StaffProfile.history.filter(user=user).order_by("history_date")] == ["auditor", "catalog_admin"]
    assert list(user.groups.values_list("name", flat=True)) == ["catalog_admin"]


def test_token_authenticates_staff_api(client):
    from apps.core.services import staff_create, token_issue

    user = staff_create(username="tok", role="auditor")
    key = token_issue(user=user)
    assert client.get("/api/v1/releases/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
