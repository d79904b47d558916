"""Login lockout keys on the real client address: behind TRUSTED_PROXY_COUNT proxies it is read
from X-Forwarded-For (django-ipware, counted from the right), with no proxy configured the
header is ignored. Five bad passwords for a named checker lock out the attacker's address, not
everyone behind the load balancer; forging the header gains an attacker nothing."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from apps.core.clientip import client_ip
from apps.core.roles import Role
from tests.factories import staff

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
BALANCER = "10.0.0.2"  # the one address every request comes from behind the load balancer
ATTACKER, CHECKER_HOME = "1.2.3.4", "5.6.7.8"


def admin_login(password: str, forwarded: str | None, remote: str = BALANCER) -> int:
    extra = {"REMOTE_ADDR": remote} | ({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {})
    body = {"username": "checker", "password": password, "next": "/admin/"}
    return Client().post("/admin/login/?next=/admin/", body, **extra).status_code


def token_login(password: str, forwarded: str | None, remote: str = BALANCER) -> int:
    extra = {"REMOTE_ADDR": remote} | ({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {})
    return APIClient().post("/api/v1/auth/token/", {"username": "checker", "password": password}, format="json", **extra).status_code


@pytest.fixture
def checker():
    return staff(Role.FINANCE_CHECKER, "310000", username="checker")


@pytest.fixture
def one_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1


def test_behind_the_balancer_an_attackers_bad_passwords_do_not_lock_the_checker_out(checker, one_proxy):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        admin_login("wrong password", ATTACKER)
    assert admin_login(PASSWORD, CHECKER_HOME) == 302


def test_behind_the_balancer_the_token_endpoint_locks_the_attacker_only(checker, one_proxy):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        token_login("wrong password", ATTACKER)
    assert (token_login(PASSWORD, ATTACKER), token_login(PASSWORD, CHECKER_HOME)) == (429, 200)


def test_behind_the_balancer_the_attacker_is_locked_out(checker, one_proxy):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        admin_login("wrong password", ATTACKER)
    assert admin_login(PASSWORD, ATTACKER) == 429


def test_behind_the_balancer_addresses_a_client_writes_into_the_header_are_ignored(checker, one_proxy):
    # The balancer appends the address it saw; whatever the attacker put before it changes nothing.
    for n in range(settings.AXES_FAILURE_LIMIT):
        admin_login("wrong password", f"9.9.9.{n}, {ATTACKER}")
    assert admin_login(PASSWORD, f"{CHECKER_HOME}, {ATTACKER}") == 429


def test_without_a_proxy_a_forged_forwarded_header_does_not_bypass_the_lockout(checker):
    assert settings.TRUSTED_PROXY_COUNT == 0
    for n in range(settings.AXES_FAILURE_LIMIT):
        admin_login("wrong password", f"9.9.9.{n}", remote=ATTACKER)
    assert admin_login(PASSWORD, CHECKER_HOME, remote=ATTACKER) == 429


def test_without_a_proxy_the_token_endpoint_ignores_a_forged_header(checker):
    for n in range(settings.AXES_FAILURE_LIMIT):
        token_login("wrong password", f"9.9.9.{n}", remote=ATTACKER)
    assert token_login(PASSWORD, CHECKER_HOME, remote=ATTACKER) == 429


def test_default_trusts_no_proxy():
    assert settings.TRUSTED_PROXY_COUNT == 0


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "1.2.3.4", "10.0.0.2"),  # no proxy: the header is not read
        (1, "1.2.3.4", "1.2.3.4"),
        (1, "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # a client-written entry sits left of the balancer's
        (2, "6.6.6.6, 1.2.3.4, 10.0.0.9", "1.2.3.4"),  # two proxies: the outer one appended the client
        (2, "1.2.3.4", "10.0.0.2"),  # shorter than the chain: the request skipped a proxy, not trusted
        (1, None, "10.0.0.2"),  # no header at all
    ],
)
def test_client_ip_counts_trusted_proxies_from_the_right(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    extra = {"REMOTE_ADDR": BALANCER} | ({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {})
    assert client_ip(RequestFactory().get("/", **extra)) == expected
