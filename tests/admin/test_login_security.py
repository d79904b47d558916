"""Staff login: lockout after repeated failures (django-axes), OTP for enrolled finance checkers
(django-otp), password validators, and `check --deploy` clean with the production settings."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.core.roles import Role
from tests.factories import staff

from .conftest import VIEWER

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # tests.factories.staff's password
LOGIN = "/admin/login/?next=/admin/"


def _login(client: Client, username: str, password: str, **extra: str):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/", **extra})


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):0{device.digits}d}"


def _enrol(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def test_correct_password_logs_in_to_the_admin():
    user = staff(Role.CATALOG_ADMIN, username="clerk")
    client = Client()
    assert _login(client, "clerk", PASSWORD).status_code == 302
    assert client.get("/admin/").status_code == 200
    assert user.is_authenticated


def test_account_is_locked_after_repeated_failures_even_with_the_right_password():
    staff(Role.CATALOG_ADMIN, username="clerk")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "clerk", "wrong password")
    response = _login(client, "clerk", PASSWORD)
    assert (response.status_code, client.get("/admin/").status_code) == (429, 302)


def test_failures_below_the_limit_do_not_lock():
    staff(Role.CATALOG_ADMIN, username="clerk")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "clerk", "wrong password")
    assert _login(client, "clerk", PASSWORD).status_code == 302


def test_enrolled_finance_checker_without_code_is_refused():
    _enrol(staff(Role.FINANCE_CHECKER, VIEWER, username="checker"))
    client = Client()
    response = _login(client, "checker", PASSWORD)
    assert (response.status_code, client.get("/admin/").status_code) == (200, 302)
    assert "otp_required" in {e.code for e in response.context["form"].non_field_errors().as_data()}


def test_enrolled_finance_checker_with_wrong_code_is_refused():
    device = _enrol(staff(Role.FINANCE_CHECKER, VIEWER, username="checker"))
    wrong = f"{(int(_code(device)) + 1) % 1_000_000:06d}"
    client = Client()
    _login(client, "checker", PASSWORD, otp_token=wrong)
    assert client.get("/admin/").status_code == 302


def test_enrolled_finance_checker_with_current_code_uses_the_admin():
    device = _enrol(staff(Role.FINANCE_CHECKER, VIEWER, username="checker"))
    client = Client()
    _login(client, "checker", PASSWORD, otp_token=_code(device))
    assert client.get(reverse("admin:pooling_transfer_changelist")).status_code == 200


def test_enrolled_finance_checker_logged_in_without_otp_cannot_use_the_admin():
    """A session that never passed OTP (e.g. from another login path) is sent back to log in."""
    user = staff(Role.FINANCE_CHECKER, VIEWER, username="checker")
    _enrol(user)
    client = Client()
    client.force_login(user)
    response = client.get(reverse("admin:pooling_transfer_changelist"))
    assert (response.status_code, response.url.startswith(reverse("admin:login"))) == (302, True)


@pytest.mark.parametrize("role", [Role.FINANCE_MAKER, Role.PROVINCE_STAFF, Role.CATALOG_ADMIN])
def test_other_roles_with_a_device_log_in_with_the_password_alone(role):
    user = staff(role, VIEWER if role != Role.CATALOG_ADMIN else "", username="clerk")
    _enrol(user)
    client = Client()
    _login(client, "clerk", PASSWORD)
    assert client.get("/admin/").status_code == 200


def test_finance_checker_not_enrolled_logs_in_with_the_password_alone():
    staff(Role.FINANCE_CHECKER, VIEWER, username="checker")
    client = Client()
    _login(client, "checker", PASSWORD)
    assert client.get("/admin/").status_code == 200


def test_short_or_common_passwords_are_refused():
    for weak in ("short1", "password1234", "12345678901234"):
        with pytest.raises(ValidationError):
            validate_password(weak)


def test_sessions_expire():
    assert (settings.SESSION_COOKIE_AGE <= 12 * 3600, settings.SESSION_EXPIRE_AT_BROWSER_CLOSE) == (True, True)


def test_check_deploy_is_clean_with_production_settings():
    root = Path(settings.BASE_DIR)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "portal.example.cn",
        "DATABASE_URL": settings.DATABASES["default"].get("TEST_URL", os.environ.get("DATABASE_URL", "")),
        "CACHE_URL": settings.REDIS_URL,  # production refuses a per-process cache
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, "no issues" in result.stdout) == (0, True), result.stdout + result.stderr


def test_totp_enrol_command_prints_an_otpauth_url_and_login_then_needs_the_code():
    from io import StringIO

    from django.core.management import call_command

    staff(Role.FINANCE_CHECKER, VIEWER, username="checker")
    out = StringIO()
    call_command("totp_enrol", "checker", stdout=out)
    client = Client()
    _login(client, "checker", PASSWORD)
    assert (out.getvalue().startswith("otpauth://totp/"), client.get("/admin/").status_code) == (True, 302)
