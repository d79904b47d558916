"""Celery tasks for change notices. Thin: the work is in ``delivery`` and ``services``.

acks_late + reject_on_worker_lost: a worker killed mid-batch leaves its message to be
redelivered; the claim lease makes a second run skip whatever was already recorded.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_ready

from . import conf, delivery, services


def _follow_up(summary: dict[str, Any]) -> None:
    """Retries due soon get a countdown message; later ones wait for the periodic sweep (a Redis
    ETA longer than the visibility timeout would be handed out twice). Eager mode skips this."""
    wait = summary.get("next_retry_in")
    if wait is None or deliver_due.app.conf.task_always_eager:
        return
    if wait <= conf.chain_window():
        deliver_due.apply_async(countdown=max(wait, 0.0) + 0.05)


@shared_task(name="notices.deliver_batch", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_batch(delivery_ids: list[int]) -> dict[str, Any]:
    summary = delivery.deliver(delivery_ids)
    _follow_up(summary)
    return summary


@shared_task(name="notices.deliver_due", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_due() -> int:
    """Sweep: queue every due pending delivery whose lease has expired (retries, and batches a
    dead worker held). Scheduled by beat, after each batch with retries, and on worker start."""
    ids = delivery.due_delivery_ids(limit=conf.batch_size() * 100)
    return services.deliveries_dispatch(ids)


@worker_ready.connect
def _sweep_on_start(sender: Any = None, **kwargs: Any) -> None:
    # A restarted worker picks up what a killed one held, once those leases have expired.
    deliver_due.apply_async(countdown=conf.lease_seconds() + 0.5)


@shared_task(name="notices.remind_unacknowledged", acks_late=True, ignore_result=True)
def remind_unacknowledged() -> dict[str, int]:
    """Daily (beat): mail hospitals that have not acknowledged a release taking effect within 7 days."""
    return services.release_reminders_queue()
