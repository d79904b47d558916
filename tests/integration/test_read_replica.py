"""The hospital catalog API reads from a real streaming replica (a primary and its pg_basebackup
replica on loopback ports), and a release the replica has not replayed yet is answered by the
primary: never missing. gunicorn serves with DATABASE_REPLICA_URL as in production; releases
are published by another process against the primary.

Which server answered is read from the servers themselves: ``pg_stat_activity`` shows the last
statement of each of gunicorn's (persistent) connections, and a release the replica lacks (its
replay paused) can only have come from the primary."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings

from tests.integration.conftest import _database_url, wait_for
from tests.integration.pgpair import PostgresPair, free_port

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[2]
DATABASE = f"portal_replica_{os.getpid()}"


class Portal:
    """gunicorn against the pair, and the world script for writes on the primary."""

    def __init__(self, pair: PostgresPair) -> None:
        self.pair = pair
        prefix = f"replica-test-{os.getpid()}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": pair.url(database=DATABASE),
            "DATABASE_REPLICA_URL": pair.url(replica=True, database=DATABASE),
            "DB_CONN_MAX_AGE": "600",  # persistent: pg_stat_activity keeps each connection's last statement
            "CACHE_URL": f"{settings.REDIS_URL}?key_prefix={prefix}",  # the generation, shared as in production
            "REDIS_URL": settings.REDIS_URL,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = ""
        self.key = ""

    def world(self, *args: str) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-m", "tests.integration.replica_world", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    def start(self) -> Portal:
        port = free_port()
        log = ROOT / "var" / f"test-web-replica-{os.getpid()}.log"
        log.parent.mkdir(exist_ok=True)
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.proc = subprocess.Popen(
            [gunicorn, "config.wsgi", "--workers", "1", "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=self.env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{self.base}/healthz", timeout=2).status_code in (200, 503)
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=60, what="gunicorn to answer")
        self.key = self.world("hospital")["key"]
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=15)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.base}{path}", headers={"Authorization": f"Api-Key {self.key}"}, timeout=30)

    def item_codes(self, label: str) -> list[str]:
        response = self.get(f"/api/v1/catalog/releases/{label}/items/")
        assert response.status_code == 200, response.text
        return [item["code"] for item in response.json()["results"]]

    def last_statements(self, *, replica: bool) -> list[str]:
        """The last statement of every other client connection to the portal database."""
        with self.pair.connect(replica=replica) as conn:
            rows = conn.execute(
                "SELECT query FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
                [DATABASE],
            ).fetchall()
        return [r[0] for r in rows]

    def replica_has(self, label: str) -> bool:
        with self.pair.connect(replica=True, database=DATABASE) as conn:
            return conn.execute("SELECT EXISTS (SELECT 1 FROM catalog_catalogrelease WHERE label = %s)", [label]).fetchone()[0]  # type: ignore[index,no-any-return]

    def replay(self, *, paused: bool) -> None:
        with self.pair.connect(replica=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")
            if paused:
                wait_for(
                    lambda: conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0] == "paused",
                    timeout=10,
                    what="replay to pause",
                )  # type: ignore[index]


@pytest.fixture(scope="module")
def portal(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Portal]:
    pair = PostgresPair().start()
    site = Portal(pair)
    try:
        pair.copy_database(_database_url(), DATABASE)  # the migrated test database, schema and reference data
        site.start()
        yield site
    finally:
        site.stop()
        pair.stop()


def _items_query(statements: list[str]) -> bool:
    return any("catalog_catalogitem" in s and "release_id" in s for s in statements)


def test_hospital_catalog_reads_are_served_by_the_replica(portal: Portal) -> None:
    published = portal.world("publish", "1")
    portal.pair.wait_replayed()
    assert portal.item_codes(published["label"]) == published["codes"]
    assert _items_query(portal.last_statements(replica=True)), "the items page was read on the replica"
    assert not _items_query(portal.last_statements(replica=False))


def test_a_release_the_replica_has_not_replayed_is_answered_by_the_primary(portal: Portal) -> None:
    portal.replay(paused=True)
    try:
        published = portal.world("publish", "2")
        assert not portal.replica_has(published["label"])  # so any answer about it came from the primary
        assert portal.get(f"/api/v1/catalog/releases/{published['label']}/").status_code == 200
        assert portal.item_codes(published["label"]) == published["codes"]
        on = (dt.date(2026, 1, 1) + dt.timedelta(days=62)).isoformat()
        in_force = portal.get(f"/api/v1/catalog/releases/?in_force_on={on}").json()["results"]
        assert [r["label"] for r in in_force] == [published["label"]]  # not the older release the replica still has in force
        assert not _items_query(portal.last_statements(replica=True)), "the lagging replica was only asked its generation"
    finally:
        portal.replay(paused=False)
    portal.pair.wait_replayed()
    assert portal.item_codes(published["label"]) == published["codes"]
    assert _items_query(portal.last_statements(replica=True)), "caught up: the replica serves again"


def test_a_release_is_found_even_when_the_cached_generation_is_behind(portal: Portal) -> None:
    """The instant between a publish's commit and the cache hearing of it: a release the replica
    lacks is asked again of the primary."""
    from django.core.cache.backends.redis import RedisCache

    cache = RedisCache(settings.REDIS_URL, {"KEY_PREFIX": f"replica-test-{os.getpid()}"})
    portal.replay(paused=True)
    try:
        published = portal.world("publish", "3")
        with portal.pair.connect(replica=True, database=DATABASE) as replica:
            replayed = replica.execute("SELECT value FROM core_generation WHERE name = 'catalog.publish'").fetchone()[0]  # type: ignore[index]
        cache.set("replica:generation:catalog.publish", replayed, 60)  # as if the publish had not been heard of yet
        assert not portal.replica_has(published["label"])
        assert portal.item_codes(published["label"]) == published["codes"]
    finally:
        portal.replay(paused=False)
