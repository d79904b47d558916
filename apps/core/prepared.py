"""Statements prepared once per connection, for the few hot statements whose text repeats.

Django turns psycopg's automatic preparation off (``prepare_threshold`` None) so that statement
poolers keep working. A threshold no query reaches lets a statement be prepared on request while
every other query stays unprepared, as Django wants. A prepared statement is parsed and
rewritten once per connection and, once PostgreSQL finds its generic plan as good as the custom
ones, planned once too.

Off with ``settings.PREPARED_STATEMENTS = False`` (behind PgBouncer in transaction mode before
1.21, or without ``max_prepared_statements``); ``PRECHECK_PREPARED_STATEMENT = False`` still
turns it off for the claim pre-check alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

_NEVER_AUTOMATICALLY = 2**31 - 1


class _PreparedCursor(psycopg.Cursor[Any]):
    """Server-side binding, and every statement it runs prepared on its connection."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None) -> Any:
        return super().execute(query, params, prepare=True, binary=binary)


def preparing(setting: str = "PREPARED_STATEMENTS") -> bool:
    return bool(getattr(settings, "PREPARED_STATEMENTS", True) and getattr(settings, setting, True))


@contextmanager
def prepared_cursor(db: BaseDatabaseWrapper, *, setting: str = "PREPARED_STATEMENTS") -> Iterator[CursorWrapper]:
    """A cursor of ``db`` (Django's wrapper: query logging, execute wrappers and error translation
    still apply) whose statements are prepared on the connection; a plain cursor when ``setting``
    or PREPARED_STATEMENTS is off. Placeholders are psycopg's (``%s``, ``%(name)s``)."""
    if not preparing(setting):
        with db.cursor() as cursor:
            yield cursor
        return
    db.ensure_connection()
    if db.connection.prepare_threshold is None:
        db.connection.prepare_threshold = _NEVER_AUTOMATICALLY
    raw = _PreparedCursor(db.connection)
    # django-stubs type these as taking Django's wrapper; at run time they wrap a DB-API cursor.
    cursor = db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)  # type: ignore[arg-type]
    with cursor:
        yield cursor
