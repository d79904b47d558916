"""Production settings: debug off whatever the environment says, secure cookies, HSTS, HTTPS
redirect, and hosts, secrets, database and broker from the environment with no silent fallback.
Each case loads config.settings.production in a fresh interpreter with a chosen environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

NAMES = [
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_SSL_REDIRECT",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "X_FRAME_OPTIONS",
    "CELERY_TASK_ALWAYS_EAGER",
]
SCRIPT = (
    "import json, django; from django.conf import settings; django.setup(); "
    f"print(json.dumps({{n: getattr(settings, n, None) for n in {NAMES!r}}} | "
    "{'DB': settings.DATABASES['default']['ENGINE'] + ':' + settings.DATABASES['default']['NAME']}))"
)
SECRET = "prod-" + "k7" * 30
GOOD_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": SECRET,
    "DJANGO_ALLOWED_HOSTS": "portal.nhsa.example.cn,api.nhsa.example.cn",
    "DATABASE_URL": "postgres://portal@db.internal:5432/portal",
    "CELERY_BROKER_URL": "redis://broker.internal:6379/0",
    "CACHE_URL": "redis://cache.internal:6379/1",
}


def load(**overrides: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_", "CACHE_URL"))}
    env.update(GOOD_ENV)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run([sys.executable, "-c", SCRIPT], cwd=Path(settings.BASE_DIR), env=env, capture_output=True, text=True, timeout=60)


def values(**overrides: str | None) -> dict[str, Any]:
    result = load(**overrides)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_debug_is_off_even_when_the_environment_asks_for_it():
    assert values(DJANGO_DEBUG="true")["DEBUG"] is False


def test_cookies_are_secure_and_session_cookie_is_http_only():
    v = values()
    assert (v["SESSION_COOKIE_SECURE"], v["CSRF_COOKIE_SECURE"], v["SESSION_COOKIE_HTTPONLY"]) == (True, True, True)


def test_hsts_is_at_least_a_year_with_subdomains_and_http_redirects():
    v = values()
    assert (v["SECURE_HSTS_SECONDS"] >= 31_536_000, v["SECURE_HSTS_INCLUDE_SUBDOMAINS"], v["SECURE_SSL_REDIRECT"]) == (True, True, True)


def test_https_behind_the_proxy_is_recognised_and_content_sniffing_and_framing_are_off():
    v = values()
    assert (v["SECURE_PROXY_SSL_HEADER"], v["SECURE_CONTENT_TYPE_NOSNIFF"], v["X_FRAME_OPTIONS"]) == (
        ["HTTP_X_FORWARDED_PROTO", "https"],
        True,
        "DENY",
    )


def test_allowed_hosts_are_exactly_those_of_the_environment():
    assert values()["ALLOWED_HOSTS"] == ["portal.nhsa.example.cn", "api.nhsa.example.cn"]


def test_secret_key_comes_from_the_environment():
    assert values()["SECRET_KEY"] == SECRET


def test_database_comes_from_the_environment():
    assert values()["DB"] == "django.db.backends.postgresql:portal"


def test_tasks_never_run_inside_web_requests():
    assert values()["CELERY_TASK_ALWAYS_EAGER"] is False


def test_start_is_refused_without_a_secret_key():
    result = load(DJANGO_SECRET_KEY=None)
    assert (result.returncode, "DJANGO_SECRET_KEY" in result.stderr) == (1, True)


def test_start_is_refused_without_allowed_hosts():
    result = load(DJANGO_ALLOWED_HOSTS=None)
    assert (result.returncode, "DJANGO_ALLOWED_HOSTS" in result.stderr) == (1, True)


def test_start_is_refused_without_a_database_url_rather_than_falling_back_to_a_default():
    result = load(DATABASE_URL=None)
    assert (result.returncode, "DATABASE_URL" in result.stderr) == (1, True)


@pytest.mark.parametrize("cache_url", [None, "locmemcache://", "filecache:///tmp/portal-cache", "dummycache://"])
def test_start_is_refused_without_a_cache_shared_by_every_web_process(cache_url):
    # A per-process cache would keep a revoked API key working in the other web processes.
    result = load(CACHE_URL=cache_url)
    assert (result.returncode, "CACHE_URL must name a cache shared by every web process" in result.stderr) == (1, True)


def test_api_key_verdicts_use_the_shared_cache_in_production():
    script = "import django; from django.conf import settings; django.setup(); print(settings.CACHES['api_keys']['LOCATION'])"
    env = {**os.environ, **GOOD_ENV}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=Path(settings.BASE_DIR), env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip().splitlines()[-1] == GOOD_ENV["CACHE_URL"]


def test_without_a_shared_cache_api_key_verdicts_are_not_cached_at_all():
    script = "import django; from django.conf import settings; django.setup(); print(settings.CACHES['api_keys']['BACKEND'])"
    env = {k: v for k, v in os.environ.items() if k != "CACHE_URL"} | {"DJANGO_SETTINGS_MODULE": "config.settings.local"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=Path(settings.BASE_DIR), env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip().splitlines()[-1] == "django.core.cache.backends.dummy.DummyCache"
