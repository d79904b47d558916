"""Integration fixtures: a real Celery worker process against Redis and the pytest database,
and a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """``celery -A config worker`` in a subprocess (solo pool: one process, so SIGKILL is total),
    consuming ``queues`` (default: every queue, as ``make worker`` does)."""

    def __init__(self, env: dict[str, str], *, beat: bool = False, queues: tuple[str, ...] = ()) -> None:
        self.env = env
        self.beat = beat
        self.queues = queues
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = ROOT / "var" / f"test-worker-{os.getpid()}.log"

    def start(self) -> Worker:
        from django.conf import settings

        self.log.parent.mkdir(exist_ok=True)
        celery = str(Path(sys.executable).with_name("celery"))
        self.proc = subprocess.Popen(
            [
                celery,
                "-A",
                "config",
                "worker",
                "--pool",
                "solo",
                "-l",
                "info",
                "--without-gossip",
                "--without-mingle",
                "-Q",
                ",".join(self.queues or settings.WORKER_QUEUES),
                "-n",
                f"h6-{time.time_ns()}@%h",
                # Embedded beat with a file scheduler: the periodic sweeps run as in production.
                *(["-B", "--scheduler", "celery.beat:PersistentScheduler", "-s", str(self.log.with_suffix(".beat"))] if self.beat else []),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: an embedded beat child goes with it
        )
        return self

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        # An embedded beat outlives a warm shutdown of its worker: end the whole group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def _database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    user = s.get("USER") or ""
    auth = f"{user}:{s['PASSWORD']}@" if s.get("PASSWORD") else (f"{user}@" if user else "")
    return f"postgres://{auth}{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


@pytest.fixture
def broker(redis_url: str) -> Iterator[str]:
    """Route this process's task sends to the real broker (unit tests run tasks eagerly)."""
    import redis

    from config.celery import app

    _clear_broker_keys(redis.Redis.from_url(redis_url))
    saved = {k: app.conf[k] for k in ("task_always_eager", "broker_url")}
    app.conf.update(task_always_eager=False, broker_url=redis_url)
    # Connections are pooled per app with the URL of their first use: an earlier eager task
    # (Celery 5.7 opens a producer even then) or health check may have opened one to the default
    # broker (RabbitMQ's port, where one runs), and sends would go there. Fresh pools pick up
    # the URL set here; every test that sends to the real broker takes this fixture.
    fresh_producer_pools(app)
    yield redis_url
    app.conf.update(task_always_eager=saved["task_always_eager"])


def broker_key(name: str) -> str:
    """The Redis key Celery uses for ``name`` (a queue): this xdist worker's prefix + name."""
    from django.conf import settings

    return f"{settings.CELERY_KEY_PREFIX}{name}"


def _clear_broker_keys(client: Any) -> None:
    """No stale messages from a previous run: our own Redis db, and under xdist only this
    worker's keys (another worker's queue in the same db is not ours to drop)."""
    from django.conf import settings

    if not settings.CELERY_KEY_PREFIX:
        client.flushdb()
        return
    keys = list(client.scan_iter(match=f"{settings.CELERY_KEY_PREFIX}*", count=1000))
    if keys:
        client.delete(*keys)


def fresh_producer_pools(app: Any) -> None:
    """Drop the app's connection and producer pools: the next send opens them with app.conf.broker_url."""
    app._pool = None
    app.__dict__.get("amqp", app).__dict__["_producer_pool"] = None


@pytest.fixture
def start_worker(broker: str) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    from django.conf import settings as django_settings

    def start(*, beat: bool = False, queues: tuple[str, ...] = (), **settings: Any) -> Worker:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DATABASE_URL": _database_url(),
            "CELERY_KEY_PREFIX": django_settings.CELERY_KEY_PREFIX,
            "CELERY_BROKER_URL": broker,
            "CELERY_VISIBILITY_TIMEOUT": "10",
            "NOTICE_RETRY_SCHEDULE": "0,1,2",
            "NOTICE_LEASE_SECONDS": "3",
            "NOTICE_HTTP_TIMEOUT": "5",
            "DJANGO_DEBUG": "false",
            **{k: str(v) for k, v in settings.items()},
        }
        worker = Worker(env, beat=beat, queues=queues).start()
        workers.append(worker)
        return worker

    yield start
    for w in workers:
        w.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")
