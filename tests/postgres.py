"""A real PostgreSQL server for the tests: initdb and pg_ctl on a temporary folder, a free port."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import psycopg
import pytest

from tests.e2e.peers import free_port

# Created once per server and migrated; each test's database is a copy of it (fast).
TEMPLATE = "mailsiren_template"


def postgres_bindir() -> Path:
    """Debian's server binaries (not on PATH): /usr/lib/postgresql/<version>/bin."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError(
        "PostgreSQL's server is not installed: apt-get install -y postgresql (.ci/run does)"
    )


def _as_server_user() -> list[str]:
    """initdb and postgres refuse to run as root: run them as Debian's postgres user then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class PostgresServer:
    """One server on loopback, trust authentication, stopped at the end of the session."""

    folder: Path
    port: int
    durable: bool = False  # tests trade fsync for speed; a benchmark must not
    bindir: Path = field(default_factory=postgres_bindir)
    _numbers: count = field(default_factory=lambda: count(1))

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            server_user = pwd.getpwnam("postgres")
            os.chown(self.folder, server_user.pw_uid, server_user.pw_gid)
        run = [*_as_server_user()]
        subprocess.run(
            [*run, str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
             "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"],
            check=True, capture_output=True,
        )  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c max_connections=300"
            f" -c unix_socket_directories={self.folder}"
        )
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        subprocess.run(
            [*run, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
             "-l", str(self.folder / "server.log"), "-w", "-t", "60", "start"],
            check=True, capture_output=True,
        )  # fmt: skip

    def stop(self) -> None:
        subprocess.run(
            [*_as_server_user(), str(self.bindir / "pg_ctl"), "-D", str(self.data),
             "-m", "immediate", "-w", "stop"],
            capture_output=True,
        )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)

    def execute(self, statement: str) -> None:
        with psycopg.connect(self.libpq_url("postgres"), autocommit=True) as connection:
            connection.execute(statement)

    def libpq_url(self, database: str) -> str:
        """The URL as psycopg itself takes it (no SQLAlchemy driver name)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self, template: str | None = TEMPLATE) -> str:
        """A new empty database (a copy of the migrated template unless told): its URL."""
        name = f"test_{next(self._numbers)}"
        self.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def start_postgres(*, durable: bool = False) -> PostgresServer:
    """A started server on a free port, in a folder its own user may enter."""
    server = PostgresServer(
        Path(tempfile.mkdtemp(prefix="mailsiren-pg-")), free_port(), durable=durable
    )
    os.chmod(server.folder, 0o755)
    server.start()
    return server


# For a test about SQLite itself (its pragmas, its file): run it on that backend only.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
# For a test of what only PostgreSQL allows (writers that overlap): that backend only.
postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
