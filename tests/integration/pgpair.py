"""A PostgreSQL primary and its streaming replica on loopback, in a temporary folder, made with
the machine's PostgreSQL binaries (initdb, pg_basebackup -R): the replica the hospital API reads
from in production, for tests and benchmarks. Nothing is skipped: if the pair cannot start, the
caller fails with the server's log."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
# PostgreSQL refuses to run as root: as root, the servers run as this system user.
PG_SYSTEM_USER = os.environ.get("PG_SYSTEM_USER", "postgres")
SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
wal_level = replica
max_wal_senders = 4
hot_standby = on
max_connections = 80
shared_buffers = 32MB
fsync = off
full_page_writes = off
synchronous_commit = off
logging_collector = off
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresPair:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="portal-pgpair-"))
        self.primary_dir, self.replica_dir = self.root / "primary", self.root / "replica"
        self.primary_port, self.replica_port = free_port(), free_port()
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:
            entry = pwd.getpwnam(PG_SYSTEM_USER)  # KeyError: no such user, nothing can start
            self._as = {"user": entry.pw_uid, "group": entry.pw_gid}
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str) -> None:
        done = subprocess.run(args, capture_output=True, text=True, check=False, **self._as)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n{self.logs()}")

    def _pg_ctl(self, data: Path, *args: str) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(data.with_suffix(".log")), "-w", "-t", "60", *args)

    def logs(self) -> str:
        out = []
        for log in (self.primary_dir.with_suffix(".log"), self.replica_dir.with_suffix(".log")):
            if log.exists():
                out.append(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        return "\n".join(out)

    def start(self) -> PostgresPair:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.primary_dir), "-U", "root", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        with (self.primary_dir / "postgresql.conf").open("a") as conf:
            conf.write(SETTINGS.format(port=self.primary_port, sockets=self.root))
        self._pg_ctl(self.primary_dir, "start")
        # initdb --auth=trust also trusts replication connections from 127.0.0.1.
        self._run(
            str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "root",
            "-D", str(self.replica_dir), "-X", "stream", "-R", "--checkpoint=fast",
        )  # fmt: skip
        with (self.replica_dir / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {self.replica_port}\n")
        self._pg_ctl(self.replica_dir, "start")
        return self

    def stop(self) -> None:
        for data in (self.replica_dir, self.primary_dir):
            if (data / "postmaster.pid").exists():
                subprocess.run(
                    [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True, check=False, **self._as
                )
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, *, replica: bool = False, database: str = "postgres") -> str:
        return f"postgres://root@127.0.0.1:{self.replica_port if replica else self.primary_port}/{database}"

    def connect(self, *, replica: bool = False, database: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(self.url(replica=replica, database=database), autocommit=True)

    def copy_database(self, source_url: str, name: str) -> None:
        """``name`` on the primary as a copy of the database at ``source_url`` (pg_dump | pg_restore)."""
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        dump = subprocess.Popen(
            [str(PG_BIN / "pg_dump"), "-Fc", "--no-owner", "-d", source_url.replace("postgres://", "postgresql://")], stdout=subprocess.PIPE
        )
        restore = subprocess.run(
            [str(PG_BIN / "pg_restore"), "--no-owner", "--exit-on-error", "-d", self.url(database=name).replace("postgres://", "postgresql://")],
            stdin=dump.stdout, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert dump.stdout is not None
        dump.stdout.close()
        if dump.wait() != 0 or restore.returncode != 0:
            raise RuntimeError(f"copying {source_url} into the pair failed:\n{restore.stderr}")

    def wait_replayed(self, timeout: float = 30.0) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        with self.connect() as primary:
            target = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]  # type: ignore[index]
        deadline = time.monotonic() + timeout
        with self.connect(replica=True) as replica:
            while time.monotonic() < deadline:
                if replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]).fetchone()[0]:  # type: ignore[index]
                    return
                time.sleep(0.05)
        raise RuntimeError(f"the replica did not replay up to {target} within {timeout} s\n{self.logs()}")
