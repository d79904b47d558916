"""Celery tasks of the catalog. Thin: the work is in ``search`` and ``services``."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_ready

from . import search, services, sql


@shared_task(name=search.INDEX_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def search_index(release_id: int) -> int:
    """Search rows of a just-published release (idempotent: an indexed release is left alone)."""
    return search.release_index_locked(release_id=release_id)


@shared_task(name="catalog.search_index_due", acks_late=True, ignore_result=True)
def search_index_due() -> int:
    """Beat sweep and on worker start: index every published release still without search rows."""
    return search.releases_index_due()


@worker_ready.connect
def _sweep_on_start(sender: Any = None, **kwargs: Any) -> None:
    search_index_due.apply_async(countdown=5.0)
    items_finish_due.apply_async(countdown=5.0)


@shared_task(name=sql.ITEMS_FINISH_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def items_finish(release_id: int) -> bool:
    """A draft's readers' indexes, statistics and search terms after a bulk load commits."""
    return services.items_finish_locked(release_id=release_id)


@shared_task(name="catalog.items_finish_due", acks_late=True, ignore_result=True)
def items_finish_due() -> int:
    """Beat sweep and on worker start: finish the drafts whose ``catalog.items_finish`` was lost."""
    return services.items_finish_due()
