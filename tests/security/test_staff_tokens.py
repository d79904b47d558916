"""Staff API tokens (django-rest-knox): hashed, expiring, revocable, obtained with the password
(and the one-time code of an enrolled checker) under the same lockout as the admin login."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from apps.core.models import AuditAction, AuditEvent, StaffToken
from apps.core.roles import Role
from apps.core.services import token_issue
from tests.factories import staff

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # tests.factories.staff's password
TOKEN_URL = "/api/v1/auth/token/"
STAFF_ONLY = "/api/v1/releases/"


def obtain(username: str, password: str = PASSWORD, client: APIClient | None = None, **extra: str):
    return (client or APIClient()).post(TOKEN_URL, {"username": username, "password": password, **extra}, format="json")


def with_token(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def auditor():
    return staff(Role.AUDITOR, username="token-auditor")


def test_password_obtains_a_token_that_works_in_the_token_header(auditor):
    response = obtain("token-auditor")
    assert response.status_code == 200
    assert with_token(response.json()["token"]).get(STAFF_ONLY).status_code == 200


def test_token_expires_staff_token_ttl_after_issue(auditor):
    before = timezone.now()
    expires_at = parse_datetime(obtain("token-auditor").json()["expires_at"])
    assert expires_at is not None
    assert before + settings.STAFF_TOKEN_TTL <= expires_at <= timezone.now() + settings.STAFF_TOKEN_TTL


def test_default_token_lifetime_is_thirty_days():
    assert dt.timedelta(days=30) == settings.STAFF_TOKEN_TTL


def test_an_expired_token_is_refused_with_401(auditor):
    token = obtain("token-auditor").json()["token"]
    with time_machine.travel(timezone.now() + settings.STAFF_TOKEN_TTL + dt.timedelta(seconds=1), tick=False):
        response = with_token(token).get(STAFF_ONLY)
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_token_is_stored_only_as_a_digest(auditor):
    token = obtain("token-auditor").json()["token"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT digest, token_key FROM core_stafftoken")
        stored = cursor.fetchall()
    assert len(stored) == 1
    assert all(token not in value for row in stored for value in row)


def test_wrong_password_is_401_not_authenticated(auditor):
    response = obtain("token-auditor", "wrong password")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_unknown_user_is_401_not_authenticated():
    response = obtain("nobody-here")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_token_endpoint_locks_out_after_the_failure_limit_even_with_the_right_password(auditor):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        obtain("token-auditor", "wrong password")
    response = obtain("token-auditor")
    assert (response.status_code, response.json()["code"]) == (429, "locked_out")


def test_delete_revokes_the_calling_token_at_once(auditor):
    token = obtain("token-auditor").json()["token"]
    client = with_token(token)
    assert client.delete(TOKEN_URL).status_code == 204
    response = client.get(STAFF_ONLY)
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_revoking_one_token_leaves_the_users_other_tokens_working(auditor):
    first, second = obtain("token-auditor").json()["token"], obtain("token-auditor").json()["token"]
    with_token(first).delete(TOKEN_URL)
    assert with_token(second).get(STAFF_ONLY).status_code == 200


def test_delete_without_a_token_is_401(auditor):
    assert APIClient().delete(TOKEN_URL).status_code == 401


def test_issue_and_revoke_each_write_one_audit_event(auditor):
    token = obtain("token-auditor").json()["token"]
    with_token(token).delete(TOKEN_URL)
    events = list(AuditEvent.objects.filter(actor=auditor).order_by("id").values_list("action", "detail"))
    assert [action for action, _detail in events] == [AuditAction.STAFF_TOKEN_ISSUED, AuditAction.STAFF_TOKEN_REVOKED]
    assert token not in str(events)


def test_issue_token_command_prints_one_working_token_and_nothing_else(auditor):
    out = io.StringIO()
    call_command("issue_token", "token-auditor", stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert with_token(lines[0]).get(STAFF_ONLY).status_code == 200


def test_token_issue_service_keeps_its_contract(auditor):
    token = token_issue(user=auditor)
    assert isinstance(token, str)
    assert with_token(token).get(STAFF_ONLY).status_code == 200


def test_drf_plain_text_token_table_is_gone():
    assert "authtoken_token" not in connection.introspection.table_names()


def test_a_token_of_a_deactivated_user_is_refused(auditor):
    token = token_issue(user=auditor)
    auditor.is_active = False
    auditor.save(update_fields=["is_active"])
    assert with_token(token).get(STAFF_ONLY).status_code == 401


def test_token_without_expiry_is_refused_by_the_database(auditor):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        StaffToken.objects.create(user=auditor, expiry=None)


def test_issue_token_refuses_a_user_without_a_staff_role():
    from django.contrib.auth import get_user_model
    from django.core.management.base import CommandError

    get_user_model().objects.create_user("plain-user", password=PASSWORD)
    with pytest.raises(CommandError, match="staff"):
        call_command("issue_token", "plain-user", stdout=io.StringIO())
