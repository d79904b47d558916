"""A pooled connection (DB_POOL_MAX_SIZE; psycopg_pool with config.dbpool.reset_session): what a
borrower left in the server session is gone for the next borrower of the same session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from psycopg_pool import ConnectionPool

from config.dbpool import reset_session

pytestmark = pytest.mark.django_db  # for the test database's name; the pool opens its own sessions


@pytest.fixture
def pool() -> Iterator[ConnectionPool[Any]]:
    """A pool of one on the test database: every borrow gets the same server session."""
    params = {k: v for k, v in connection.get_connection_params().items() if k in ("dbname", "user", "password", "host", "port")}
    with ConnectionPool(kwargs={**params, "autocommit": True}, min_size=1, max_size=1, reset=reset_session, timeout=10) as p:
        yield p


def test_a_session_advisory_lock_is_gone_for_the_next_borrower(pool: ConnectionPool[Any]) -> None:
    with pool.connection() as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        conn.execute("SELECT pg_advisory_lock(7311, 99)")
        held = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()").fetchone()[0]  # type: ignore[index]
    with pool.connection() as conn:
        again = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        after = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()").fetchone()[0]  # type: ignore[index]
    assert (again == pid, held, after) == (True, 1, 0)


def test_a_temporary_table_is_gone_for_the_next_borrower(pool: ConnectionPool[Any]) -> None:
    with pool.connection() as conn:
        conn.execute("CREATE TEMPORARY TABLE pool_left_over (x int)")
    with pool.connection() as conn:
        gone = conn.execute("SELECT to_regclass('pg_temp.pool_left_over') IS NULL").fetchone()[0]  # type: ignore[index]
    assert gone


def test_a_lock_and_a_temporary_table_left_together_are_both_gone(pool: ConnectionPool[Any]) -> None:
    """Both resets travel in one message (an implicit transaction on the server): neither stops the other."""
    with pool.connection() as conn:
        conn.execute("SELECT pg_advisory_lock(7311, 98)")
        conn.execute("CREATE TEMPORARY TABLE pool_left_over_2 (x int)")
    with pool.connection() as conn:
        left = conn.execute(
            "SELECT (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()), "
            "to_regclass('pg_temp.pool_left_over_2') IS NULL"
        ).fetchone()
    assert left == (0, True)


def test_the_reset_costs_one_round_trip() -> None:
    """A request that used the database pays one round trip for the reset, not one per statement."""
    sent: list[Any] = []

    class Recorder:
        def execute(self, query: Any, params: Any = None) -> None:
            sent.append((query, params))

    reset_session(Recorder())
    assert [params for _query, params in sent] == [None]  # one message, no parameters: the simple query protocol


# --- a Celery worker's connection between tasks (config.celery) -------------------------------


def _advisory_locks_and_temp_table(name: str) -> tuple[int, bool]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()), to_regclass(%s) IS NOT NULL",
            [f"pg_temp.{name}"],
        )
        locks, table = cursor.fetchone()
    return int(locks), bool(table)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_workers_kept_connection_forgets_what_its_task_left_in_the_session() -> None:
    from config.dbpool import forget_session

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(7311, 97), pg_backend_pid()")
        pid = cursor.fetchone()[1]
        cursor.execute("CREATE TEMPORARY TABLE task_left_over (x int)")
    before = _advisory_locks_and_temp_table("task_left_over")
    forget_session(connection)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        same = cursor.fetchone()[0] == pid
    assert (before, _advisory_locks_and_temp_table("task_left_over"), same) == ((1, True), (0, False), True)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_workers_connection_that_died_between_tasks_is_closed_for_the_next_task() -> None:
    import psycopg

    from config.dbpool import forget_session

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    params = {k: v for k, v in connection.get_connection_params().items() if k in ("dbname", "user", "password", "host", "port")}
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    forget_session(connection)
    assert connection.connection is None
