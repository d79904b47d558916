"""Fault-injection fixtures: gates that hold a writer at a chosen point from a second
PostgreSQL connection (so a test can kill the worker or terminate the backend right there),
and a private Redis server that a test may kill and restart.

The integration fixtures (real Celery worker, real HTTP receiver) are re-exported from
tests/integration/conftest.py."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.conftest import require_service
from tests.integration.conftest import Worker, _database_url, broker, receiver, start_worker, wait_for  # noqa: F401

GATE_KEY = 911_000_001  # advisory lock key of the commit gate


def raw_connection() -> psycopg.Connection[Any]:
    """A second, autocommit connection to the test database, outside Django."""
    return psycopg.connect(_database_url(), autocommit=True)


class Gate:
    """Holds writers on a table until opened, from a second connection.

    ``kind='commit'``: a DEFERRABLE INITIALLY DEFERRED constraint trigger on ``table`` waits for an
    advisory lock the gate holds, so a transaction that wrote to the table blocks at COMMIT with
    every write done (terminate its backend there: nothing may persist).
    ``kind='lock'``: the gate takes ``LOCK TABLE table IN SHARE MODE``, so the next INSERT into it
    blocks mid-transaction while its client waits (kill the client there)."""

    def __init__(self, table: str, kind: str) -> None:
        self.table, self.kind = table, kind
        self.conn = raw_connection()
        self.holder: psycopg.Connection[Any] | None = None
        if kind == "commit":
            self.conn.execute(
                "CREATE OR REPLACE FUNCTION reliability_gate() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN PERFORM pg_advisory_lock_shared({GATE_KEY}); PERFORM pg_advisory_unlock_shared({GATE_KEY}); "
                "RETURN NULL; END $$"
            )
            self.conn.execute(
                f"CREATE CONSTRAINT TRIGGER reliability_gate AFTER INSERT ON {table} "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION reliability_gate()"
            )

    def close(self) -> None:
        """Hold writers from now on."""
        self.holder = raw_connection()
        if self.kind == "commit":
            self.holder.execute("SELECT pg_advisory_lock(%s)", [GATE_KEY])
        else:
            self.holder.autocommit = False
            self.holder.execute(f"LOCK TABLE {self.table} IN SHARE MODE")

    def waiter_pid(self) -> int | None:
        """The backend waiting at this gate, if any."""
        if self.kind == "commit":
            sql = "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND NOT granted"
            params: list[Any] = [GATE_KEY]
        else:
            sql = "SELECT pid FROM pg_locks WHERE locktype = 'relation' AND relation = %s::regclass AND NOT granted"
            params = [self.table]
        row = self.conn.execute(sql, params).fetchone()
        return int(row[0]) if row else None

    def wait_for_waiter(self, timeout: float = 20) -> int:
        wait_for(lambda: self.waiter_pid() is not None, timeout=timeout, what=f"a writer to reach the gate on {self.table}")
        pid = self.waiter_pid()
        assert pid is not None
        return pid

    def terminate(self, pid: int) -> None:
        assert self.conn.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)

    def backend_gone(self, pid: int) -> bool:
        return self.conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone() == (0,)

    def open(self) -> None:
        if self.holder is not None:
            self.holder.close()  # ends the session: its lock goes with it
            self.holder = None

    def drop(self) -> None:
        self.open()
        if self.kind == "commit":
            self.conn.execute(f"DROP TRIGGER IF EXISTS reliability_gate ON {self.table}")
        self.conn.close()


@pytest.fixture
def gate() -> Iterator[Any]:
    """gate(table, kind) -> a closed Gate; every gate is opened and dropped at teardown."""
    gates: list[Gate] = []

    def make(table: str, kind: str = "commit") -> Gate:
        g = Gate(table, kind)
        gates.append(g)
        g.close()
        return g

    yield make
    for g in gates:
        g.drop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server of this test alone (never the machine's shared one): no persistence, so a
    restart loses every queued message, the worst case for a broker restart."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
                return self
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        self.kill()
        self.start()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    require_service("redis-server binary", shutil.which("redis-server") is not None, "install redis-server")
    server = PrivateRedis().start()
    yield server
    server.kill()
