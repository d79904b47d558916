"""Celery tasks of the hospitals app. Thin: the work is in ``mapping_services``."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from . import mapping_services


@shared_task(name="hospitals.recheck_mappings", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def recheck_mappings(release_id: int) -> int:
    """Every hospital's mappings against a just-published release (idempotent: a redelivered
    message writes the same counts)."""
    return mapping_services.recheck_after_publish(release_id=release_id)


def queue_recheck_on_publish(sender: Any, release: Any, **kwargs: Any) -> None:
    """``release_published`` receiver (sent after the publish commits): the check runs in a
    worker, so a publish never waits for every hospital's mappings."""
    recheck_mappings.delay(release.pk)
