"""Liveness of the parts the portal needs: the database and, when configured, the broker."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection


def _database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('server_version')")
            (version,) = cursor.fetchone()
        # The version says which server answered (the embedded demo one is PostgreSQL 18).
        return {"ok": True, "server_version": version}
    except Exception as exc:  # noqa: BLE001 - health reports every failure, it never raises
        return {"ok": False, "error": str(exc)[:200]}


def _broker() -> dict[str, Any]:
    url = settings.CELERY_BROKER_URL
    if not url:
        return {"ok": True, "mode": "eager"}
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
        return {"ok": True, "mode": "broker"}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "mode": "broker", "error": str(exc)[:200]}


def health_report() -> dict[str, Any]:
    database = _database()
    broker = _broker()
    return {"ok": database["ok"] and broker["ok"], "database": database, "broker": broker}
