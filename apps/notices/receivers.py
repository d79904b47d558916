"""Signal receivers (connected in NoticesConfig.ready)."""

from __future__ import annotations

from typing import Any

from . import services


def write_notices_on_publish(sender: Any, release: Any, **kwargs: Any) -> None:
    """Inside the publishing transaction: one outbox row per hospital (delivery on commit)."""
    services.notices_create_for_release(release=release)
