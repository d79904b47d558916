"""Beat sweeps that redo lost work one object at a time (a release to index, a draft to finish).

One object that cannot be done (a lock waited on too long, a full disk) must not keep the others
undone: ``sweep`` runs the work on each key in turn, logs a database error and goes on, then
raises ``SweepIncomplete`` naming the keys left, so the task shows as failed and the next sweep
tries them again."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.db import DatabaseError

logger = logging.getLogger(__name__)

Key = TypeVar("Key")


class SweepIncomplete(Exception):
    """Some objects of a sweep could not be done (each is logged); the others were."""


def sweep(keys: Iterable[Key], work: Callable[[Key], int], *, what: str, incomplete: type[SweepIncomplete] = SweepIncomplete) -> int:
    """The sum of ``work(key)`` over ``keys``, each run on its own (``work`` opens its own
    transaction); raises ``incomplete`` naming the keys that failed, after all were tried.
    ``what`` names the work in the log (``"catalog release %s: …"``)."""
    done, failed = 0, []
    for key in keys:
        try:
            done += work(key)
        except DatabaseError:
            logger.exception(what, key)
            failed.append(key)
    if failed:
        raise incomplete(f"not done: {failed} ({done} done)")
    return done
