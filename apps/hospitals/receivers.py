"""Signal receivers (connected in HospitalsConfig.ready)."""

from __future__ import annotations

from typing import Any

from . import notices


def write_notices_on_publish(sender: Any, release: Any, **kwargs: Any) -> None:
    """Inside the publishing transaction: one outbox row per hospital (delivery on commit)."""
    notices.notices_create_for_release(release=release)
