"""What a pooled connection forgets before the next request borrows it (settings: DB_POOL_MAX_SIZE),
and what a worker's connection forgets before its next task (config.celery).

A request keeps its connection from its first query to its end, so session features work inside
it (COPY, advisory locks, server-side cursors, temporary staging tables). What a request left in
the session must not reach the next one: a session advisory lock it did not release (the job
runner's lock is released by its ``finally``, but a killed request would keep it held by an idle
pooled connection), and temporary tables. psycopg_pool calls this outside any transaction.
"""

from __future__ import annotations

from typing import Any

# Both in one message (simple query protocol: no parameters, so psycopg sends the text as is):
# one round trip per request that used the database, not two. A pre-check answers from one
# statement, so two more round trips after it were most of its database traffic.
RESET_SQL = "SELECT pg_advisory_unlock_all(); DISCARD TEMP"


def reset_session(connection: Any) -> None:
    connection.execute(RESET_SQL)


def forget_session(connection: Any) -> None:
    """The same for a Django connection kept open between Celery tasks (config.celery): a
    connection that cannot take it is closed, and the next task opens a new one."""
    from django.db import DatabaseError

    if connection.connection is None or connection.in_atomic_block:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute(RESET_SQL)
    except DatabaseError:
        connection.close()
