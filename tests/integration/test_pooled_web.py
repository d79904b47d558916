"""gunicorn (threads) with its connections from psycopg's pool (DB_POOL_MAX_SIZE=2), as the
Procfile runs web: concurrent hospital reads share two server connections, and what needs a
session still works inside a request: a code-mapping upload (its job runs in the request here,
Celery being eager: the runner's session advisory lock and COPY into a staging table) and a
discrepancies CSV streamed from a server-side cursor."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from django.conf import settings

from apps.core.models import Job
from tests.hospitals.api_helpers import hospital, issue_key
from tests.integration.conftest import _database_url, wait_for
from tests.integration.pgpair import free_port
from tests.reconciliation.conftest import SC, SH, row
from tests.reconciliation.conftest import recon_default_plan as recon  # noqa: F401 - fixture

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROOT = Path(__file__).resolve().parents[2]
POOL = 2
APP = f"pooltest{os.getpid()}"


@pytest.fixture
def web(redis_url: str) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"{_database_url()}?application_name={APP}",
        "REDIS_URL": redis_url,
        "DB_POOL_MAX_SIZE": str(POOL),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    log = ROOT / "var" / f"test-web-pool-{os.getpid()}.log"
    log.parent.mkdir(exist_ok=True)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen(
        [gunicorn, "config.wsgi", "--workers", "1", "--threads", "8", "--bind", f"127.0.0.1:{port}"],
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
        wait_for(up, timeout=60, what="gunicorn to answer")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


class Sampler:
    """Counts gunicorn's server connections (by application_name) every few milliseconds."""

    def __init__(self) -> None:
        self.most = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        with psycopg.connect(_database_url(), autocommit=True) as conn:
            while not self.stop.is_set():
                n = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [APP]).fetchone()[0]  # type: ignore[index]
                self.most = max(self.most, n)
                self.stop.wait(0.005)

    def __enter__(self) -> Sampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join()


def test_concurrent_requests_share_the_pool_and_session_work_still_works(web: str, recon: Any) -> None:  # noqa: F811
    key = issue_key(hospital("H31010100001"))
    headers = {"Authorization": f"Api-Key {key}"}
    recon.both(row("M1", fund=7000), row("M2", home=SC, dest=SH, fund=2000))
    recon.load("home", row("X1", fund=4000))
    run = recon.run()
    token = httpx.post(
        f"{web}/api/v1/auth/token/", json={"username": recon.maker.username, "password": "correct horse battery staple"}
    ).json()["token"]

    def read(i: int) -> int:
        return httpx.get(f"{web}/api/v1/catalog/releases/", headers=headers, timeout=30).status_code

    def upload() -> httpx.Response:
        body = "local_code,local_name,national_code\nL1,阿莫西林,XA01ABD075A002010100483\nL2,注射器,C0101010010101000001\n"
        return httpx.put(
            f"{web}/api/v1/hospital/mappings/", headers=headers, files={"file": ("m.csv", body.encode(), "text/csv")}, timeout=60
        )

    with Sampler() as sampler, ThreadPoolExecutor(24) as pool:
        uploads = [pool.submit(upload) for _ in range(2)]
        reads = list(pool.map(read, range(48)))
        csv = httpx.get(
            f"{web}/api/v1/reconciliation/runs/{run.pk}/discrepancies.csv", headers={"Authorization": f"Token {token}"}, timeout=30
        )
        answered = [u.result() for u in uploads]

    assert set(reads) == {200}
    assert [a.status_code for a in answered] == [202, 202]
    jobs = [Job.objects.get(pk=a.json()["job"]["id"]) for a in answered]
    assert {j.state for j in jobs} == {"succeeded"}, [j.errors for j in jobs]
    assert csv.status_code == 200 and csv.text.count("\n") == 2  # header and the one missing-on-one-side claim
    assert 1 <= sampler.most <= POOL
    with psycopg.connect(_database_url(), autocommit=True) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND a.application_name = %s",
            [APP],
        ).fetchone()[0]  # type: ignore[index]
    assert left == 0
