"""gunicorn as production runs it (Procfile `web`: config/gunicorn.py, production settings,
pooled connections, the shared Redis cache), for the load benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The shared cache production requires (API-key verdicts, throttles, the publish generation).
CACHE_URL = os.environ.get("BENCH_CACHE_URL", os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13"))
APPLICATION_NAME = f"bench-web-{os.getpid()}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_web(port: int, **extra: str) -> subprocess.Popen[bytes]:
    """gunicorn config.wsgi --config config/gunicorn.py on 127.0.0.1:``port``; its server
    connections carry application_name APPLICATION_NAME (count them in pg_stat_activity)."""
    url = os.environ["DATABASE_URL"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": f"{url}{'&' if '?' in url else '?'}application_name={APPLICATION_NAME}",
        "CACHE_URL": CACHE_URL,
        "DJANGO_SECRET_KEY": "benchmark-only",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "CELERY_BROKER_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "WEB_BIND": f"127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    proc = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "config.wsgi", "--config", "config/gunicorn.py"], cwd=ROOT, env=env)
    return wait_listening(proc, port, seconds=60)


def wait_listening(proc: subprocess.Popen[bytes], port: int, *, seconds: float = 30) -> subprocess.Popen[bytes]:
    """``proc`` once something accepts connections on ``port`` (terminated, and an error, if
    nothing does within ``seconds``)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("gunicorn did not start")


def server_connections(cursor: object) -> int:
    """gunicorn's server connections now (``cursor``: a psycopg cursor on any database)."""
    cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [APPLICATION_NAME])  # type: ignore[attr-defined]
    return int(cursor.fetchone()[0])  # type: ignore[attr-defined]
