"""A database server that stops answering (a network partition drops packets without a reset)
does not hold a web or worker process for ever (config.settings.base.give_up_on_a_silent_server):
connecting gives up after the connect timeout, and every TCP connection carries keepalive
probes, so a connection waiting on a dead peer fails and the next task connects again."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.db.backends.postgresql.base import DatabaseWrapper

from config.settings.base import give_up_on_a_silent_server

pytestmark = pytest.mark.django_db


def _settings_over_tcp(**changes: Any) -> dict[str, Any]:
    """The test database's settings as the project configured them, reached over TCP."""
    settings_dict = {**connection.settings_dict, **changes}
    settings_dict["OPTIONS"] = {k: v for k, v in settings_dict["OPTIONS"].items() if k not in ("pool", "host")}
    if not settings_dict.get("HOST") or str(settings_dict["HOST"]).startswith("/"):
        settings_dict["HOST"] = "127.0.0.1"
    return settings_dict


def test_connecting_to_a_server_that_never_answers_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel accepts the TCP connection into the listener's backlog, nobody ever reads it:
    libpq waits for an answer to its first message, and gives up after the connect timeout."""
    monkeypatch.setenv("DB_CONNECT_TIMEOUT", "2")  # libpq's smallest
    outcome: dict[str, Any] = {}
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        options: dict[str, Any] = {}
        give_up_on_a_silent_server(options)
        wrapper = DatabaseWrapper(_settings_over_tcp(PORT=silent.getsockname()[1]), alias="silent")
        wrapper.settings_dict["OPTIONS"] = {**wrapper.settings_dict["OPTIONS"], **options}

        def attempt() -> None:
            start = time.monotonic()
            try:
                wrapper.ensure_connection()
            except OperationalError as exc:
                outcome["error"] = str(exc)
            outcome["seconds"] = time.monotonic() - start

        thread = threading.Thread(target=attempt, daemon=True)  # without a timeout it would wait for ever
        thread.start()
        thread.join(30)
    assert "timeout" in outcome.get("error", "") and outcome["seconds"] < 15, outcome


def test_a_connection_probes_a_server_that_goes_quiet() -> None:
    """The socket of a connection made with the project's settings has keepalives on (probed
    after 30 s of silence, every 10 s, dropped after 3 unanswered probes) and drops data left
    unacknowledged for 60 s."""
    wrapper = DatabaseWrapper(_settings_over_tcp(), alias="probed")
    wrapper.ensure_connection()
    try:
        with socket.socket(fileno=os.dup(wrapper.connection.fileno())) as probe:  # a second descriptor of the same socket
            got = (
                probe.family,
                probe.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0,
                probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
                probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
            )
    finally:
        wrapper.close()
    assert got == (socket.AF_INET, True, 30, 10, 3, 60_000)


def test_the_settings_give_every_database_the_timeouts() -> None:
    """Web, workers and the replica alias all read DATABASES: each carries the timeouts, and a
    URL's own connect_timeout is kept."""
    from config.settings.base import pooled_and_replicated

    databases = pooled_and_replicated(
        {"default": {"NAME": "a", "CONN_MAX_AGE": 0}, "other": {"NAME": "b", "OPTIONS": {"connect_timeout": "4"}}}
    )
    # by name: a DATABASE_REPLICA_URL in the environment would add a third alias
    assert [
        (databases[alias]["OPTIONS"]["connect_timeout"], databases[alias]["OPTIONS"]["keepalives"]) for alias in ("default", "other")
    ] == [
        (10, 1),
        ("4", 1),
    ]
