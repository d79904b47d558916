"""Reads for hospitals from a streaming replica (``DATABASE_REPLICA_URL``), never older than the
primary's last publish.

With a replica configured, ``replica_reads()`` sends the ORM reads of the code it wraps to the
``replica`` alias (``ReplicaRouter``) and raw SQL that asks ``read_connection()`` there too, but
only when the replica has replayed every publish the primary has committed: each publish advances
the ``Generation`` row ``catalog.publish`` inside its transaction (``generation_advance``), and
the replica's value of that row is compared with the primary's. The primary's value is kept in
the shared cache (set when a publish commits; read from the primary when missing), so a request
served by the replica touches the primary not at all. A replica behind, unreachable or not
configured means the primary answers. Writes always go to the primary.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

log = logging.getLogger(__name__)

REPLICA = "replica"
PUBLISH = "catalog.publish"
# Refreshed from the primary at least this often, in case a cache write after a commit was lost.
GENERATION_CACHE_SECONDS = 60

_reads_from: ContextVar[str | None] = ContextVar("reads_from", default=None)


def _cache_key(name: str) -> str:
    return f"replica:generation:{name}"


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def generation_advance(*, name: str) -> int:
    """Advance counter ``name`` by one in the caller's transaction (on the primary) and, once it
    commits, tell every web process through the shared cache. Returns the new value."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_generation (name, value) VALUES (%s, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = core_generation.value + 1 RETURNING value",
            [name],
        )
        value = int(cursor.fetchone()[0])
    transaction.on_commit(lambda: cache.set(_cache_key(name), value, GENERATION_CACHE_SECONDS))
    return value


def _generation_on(alias: str, name: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT value FROM core_generation WHERE name = %s", [name])
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def primary_generation(*, name: str = PUBLISH) -> int:
    value = cache.get(_cache_key(name))
    if value is None:
        value = _generation_on(DEFAULT_DB_ALIAS, name)
        # add, not set: a publish that committed meanwhile has already stored its newer value
        cache.add(_cache_key(name), value, GENERATION_CACHE_SECONDS)
    return int(value)


def primary_generation_forget(*, name: str = PUBLISH) -> None:
    """The next request reads the primary's value again (a release the replica lacked was found
    on the primary: its publish committed before the cache heard of it)."""
    cache.delete(_cache_key(name))


def replica_is_current(*, name: str = PUBLISH) -> bool:
    """True when the replica has replayed every committed advance of ``name``; False when it is
    behind or cannot be reached (logged: the primary answers meanwhile)."""
    try:
        replayed = _generation_on(REPLICA, name)
    except DatabaseError as exc:
        log.warning("replica unreachable, reading from the primary: %s", exc)
        connections[REPLICA].close()
        return False
    return replayed >= primary_generation(name=name)


def replica_enter(*, name: str = PUBLISH) -> Token[str | None]:
    """Start reading from the replica if it is current (see ``replica_is_current``), else from
    the primary; hand the token to ``replica_exit``."""
    alias = REPLICA if replica_configured() and replica_is_current(name=name) else None
    return _reads_from.set(alias)


def replica_exit(token: Token[str | None]) -> None:
    _reads_from.reset(token)


@contextmanager
def replica_reads(*, name: str = PUBLISH) -> Iterator[str]:
    """Reads inside go to the replica when it is current; yields the alias read from."""
    token = replica_enter(name=name)
    try:
        yield read_alias()
    finally:
        replica_exit(token)


@contextmanager
def primary_reads() -> Iterator[None]:
    """Reads inside go to the primary (e.g. a release the replica has not replayed yet)."""
    token = _reads_from.set(None)
    try:
        yield
    finally:
        _reads_from.reset(token)


def reading_from_replica() -> bool:
    return _reads_from.get() is not None


def read_alias() -> str:
    return _reads_from.get() or DEFAULT_DB_ALIAS


def read_connection() -> BaseDatabaseWrapper:
    """The connection raw-SQL selectors read from: the replica inside ``replica_reads`` when it
    is current, else the primary."""
    return connections[read_alias()]


class ReplicaRouter:
    """ORM reads inside ``replica_reads`` go to the replica; everything else, and every write,
    to the primary. The replica is a physical copy: it is never migrated."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return _reads_from.get()

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db != REPLICA
