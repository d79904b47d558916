"""Notice delivery knobs: Django settings win, then environment variables (so a test can hand a
compressed schedule to a real worker process), then the production defaults."""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from django.conf import settings

# Delay (seconds) before attempt 1, 2, …: after the last one fails the delivery is 'failed'.
DEFAULT_RETRY_SCHEDULE = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)


def _setting(name: str, default: Any, cast: Any) -> Any:
    if hasattr(settings, name):
        return getattr(settings, name)
    raw = os.environ.get(name)
    return cast(raw) if raw not in (None, "") else default


def _floats(raw: str) -> tuple[float, ...]:
    return tuple(float(x) for x in raw.split(",") if x.strip())


def retry_schedule() -> tuple[float, ...]:
    return tuple(_setting("NOTICE_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE, _floats))


def retry_jitter() -> float:
    """± fraction applied to each retry delay so a recovering receiver is not hit by a wave."""
    return float(_setting("NOTICE_RETRY_JITTER", 0.2, float))


def retry_after_max() -> float:
    """Upper clamp for a receiver's Retry-After (seconds)."""
    return float(_setting("NOTICE_RETRY_AFTER_MAX", 10 * 3600, float))


def disable_after() -> float:
    """Seconds of continuous failure after which an endpoint is disabled (5 days)."""
    return float(_setting("NOTICE_DISABLE_AFTER", 5 * 24 * 3600, float))


def batch_size() -> int:
    """Deliveries per broker message."""
    return int(_setting("NOTICE_BATCH_SIZE", 500, int))


def http_concurrency() -> int:
    return int(_setting("NOTICE_HTTP_CONCURRENCY", 64, int))


def http_timeout() -> float:
    return float(_setting("NOTICE_HTTP_TIMEOUT", 10.0, float))


def lease_seconds() -> float:
    """How long a worker's claim on a batch lasts; must exceed one batch's worst-case run."""
    return float(_setting("NOTICE_LEASE_SECONDS", 300.0, float))


def chain_window() -> float:
    """Retries due within this many seconds are scheduled with a countdown; later ones are
    picked up by the periodic sweep (a Redis ETA longer than visibility_timeout would duplicate)."""
    return float(_setting("NOTICE_CHAIN_WINDOW", 120.0, float))


def secret_overlap() -> float:
    """Seconds the previous secret keeps signing after a rotation."""
    return float(_setting("NOTICE_SECRET_OVERLAP", 24 * 3600, float))


def max_endpoints_per_hospital() -> int:
    """Webhook endpoints a hospital may hold (deleted ones do not count)."""
    return int(_setting("WEBHOOK_MAX_ENDPOINTS_PER_HOSPITAL", 5, int))


def allowed_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Networks a webhook may reach although they are not public (WEBHOOK_ALLOWED_NETWORKS, a
    CIDR list: local and test settings allow loopback, production nothing)."""
    raw = _setting("WEBHOOK_ALLOWED_NETWORKS", (), lambda v: [x.strip() for x in v.split(",") if x.strip()])
    return tuple(ipaddress.ip_network(n, strict=False) for n in raw)


def response_cap() -> int:
    """Bytes of a receiver's answer read before the transfer is cut (only an excerpt is kept)."""
    return int(_setting("WEBHOOK_RESPONSE_MAX_BYTES", 16 * 1024, int))


def allow_http_loopback() -> bool:
    """http:// endpoints are accepted for loopback hosts outside production settings only."""
    default = "production" not in (getattr(settings, "SETTINGS_MODULE", "") or "")
    return bool(_setting("WEBHOOKS_ALLOW_HTTP_LOOPBACK", default, lambda v: v.lower() in ("1", "true", "yes")))
