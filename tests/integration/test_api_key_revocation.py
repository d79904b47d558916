"""Revoking an API key or deactivating a hospital takes effect on the next request in every web
process: a real gunicorn with two worker processes serves the hospital API while this process
(another process, as an operator's command or the admin would be) revokes or deactivates."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.core.management import call_command

from apps.hospitals import services
from tests.hospitals.api_helpers import hospital, issue_key
from tests.integration.conftest import _database_url, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 12  # new connections each: both worker processes serve (and cache) the key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def web(redis_url: str) -> Iterator[str]:
    """gunicorn config.wsgi with two sync workers on the test database and the test settings."""
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": _database_url(), "REDIS_URL": redis_url}
    log = ROOT / "var" / f"test-web-{os.getpid()}.log"
    log.parent.mkdir(exist_ok=True)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen(
        [gunicorn, "config.wsgi", "--workers", "2", "--bind", f"127.0.0.1:{port}", "--access-logfile", "-"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code in (200, 503)
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, timeout=30, what="gunicorn to answer")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _answers(base: str, key: str) -> list[tuple[int, str]]:
    out = []
    for _ in range(REQUESTS):
        # A new connection each time, so the requests spread over both worker processes.
        response = httpx.get(f"{base}/api/v1/hospital/", headers={"Authorization": f"Api-Key {key}", "Connection": "close"}, timeout=10)
        out.append((response.status_code, response.json().get("code", "") if response.status_code != 200 else ""))
    return out


def test_a_key_revoked_by_the_command_is_refused_by_every_web_process_on_the_next_request(web):
    h = hospital("H31010100801")
    key = issue_key(h)
    assert {status for status, _ in _answers(web, key)} == {200}  # every process has seen (and cached) the key
    call_command("revoke_api_key", h.code)
    assert set(_answers(web, key)) == {(401, "api_key_revoked")}


def test_a_deactivated_hospital_is_refused_by_every_web_process_on_the_next_request(web):
    h = hospital("H31010100802")
    key = issue_key(h)
    assert {status for status, _ in _answers(web, key)} == {200}
    services.hospital_set_active(hospital=h, active=False, reason="closed")
    assert set(_answers(web, key)) == {(401, "not_authenticated")}


def test_web_processes_share_the_api_key_cache():
    assert settings.CACHES["api_keys"]["BACKEND"] == "apps.core.cache.RedisCache"  # Redis, one client per pool
