"""Ingest throughput of a team deployment: PostgreSQL with two listeners, against the
embedded SQLite default with one, in the same run.

Run: .venv/bin/python bench/team.py [--mails 4000] [--sessions 10] [--size 2048]
Needs Postfix's smtp-source (apt-get install -y postfix) and PostgreSQL's server
(apt-get install -y postgresql); the server is started on a temporary folder with its
default durability (fsync on, synchronous_commit on), like mailsiren's SQLite
(synchronous=FULL). smtp-source drives every setup with the same load; with two listeners
the load is split between them, as two MX records would. Prints each rate, the ratio to
SQLite's, and how many mails were stored of those sent.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.listener import ADDRESS, SMTP_SOURCE, free_port, wait_for_port  # noqa: E402
from tests.postgres import start_postgres  # noqa: E402

MAILSIREN = [sys.executable, "-m", "app"]


def host(home: Path, database_url: str | None, key_from: Path | None = None) -> dict:
    """The environment of one host: its own data and config folders."""
    environment = {**os.environ, "XDG_DATA_HOME": str(home / "data"),
                   "XDG_CONFIG_HOME": str(home / "config"), "PYTHONPATH": str(ROOT)}  # fmt: skip
    if database_url:
        environment["MAILSIREN_DB"] = database_url
    if key_from is not None:  # every host of a team holds the same key file
        key = home / "data" / "mailsiren" / "mailsiren.key"
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_bytes(key_from.read_bytes())
        key.chmod(0o600)
    return environment


def configure(environment: dict, home: Path, creation: str) -> None:
    config = home / "sources.toml"
    home.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'[[source]]\nname = "bench"\naddress = "{ADDRESS}"\ncreation = "{creation}"\n'
    )
    subprocess.run([*MAILSIREN, "config", "import", str(config)], check=True, env=environment,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def drive(ports: list[int], options: argparse.Namespace) -> float:
    """The same load, split over the listeners; returns mails per second for all."""
    share, sessions = options.mails // len(ports), max(1, options.sessions // len(ports))
    started = time.perf_counter()
    sources = [
        subprocess.Popen(
            [
                SMTP_SOURCE,
                "-s",
                str(sessions),
                "-m",
                str(share),
                "-l",
                str(options.size),
                "-d",
                "-f",
                "monitor@mon.example.net",
                "-t",
                ADDRESS,
                f"127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        for port in ports
    ]
    for source in sources:
        if source.wait() != 0:
            raise RuntimeError("smtp-source failed")
    return share * len(ports) / (time.perf_counter() - started)


def serve_and_drive(environments: list[dict], options: argparse.Namespace) -> float:
    ports = [free_port() for _ in environments]
    serves = [
        subprocess.Popen(
            [*MAILSIREN, "serve", "--smtp-port", str(port)],
            env=environment,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for port, environment in zip(ports, environments, strict=True)
    ]
    try:
        for port in ports:
            wait_for_port(port)
        return drive(ports, options)
    finally:
        for serve in serves:
            serve.terminate()
        for serve in serves:
            serve.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=4000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument(
        "--creation", default="per_subject",
        help="the source's creation mode: per_subject (every mail appends to one incident: "
        "the listeners take turns on its row) or per_email (no shared row)",
    )  # fmt: skip
    options = parser.parse_args()
    if not Path(SMTP_SOURCE).exists():
        sys.exit(f"{SMTP_SOURCE} is missing: apt-get install -y postfix")
    work = Path(tempfile.mkdtemp(prefix="mailsiren-team-bench-"))

    embedded = host(work / "sqlite", None)
    configure(embedded, work / "sqlite", options.creation)
    sqlite_rate = serve_and_drive([embedded], options)
    with sqlite3.connect(work / "sqlite" / "data" / "mailsiren" / "mailsiren.db") as connection:
        sqlite_stored = connection.execute("SELECT count(*) FROM mail").fetchone()[0]

    server = start_postgres(durable=True)
    results = []
    try:
        for listeners in (1, 2):
            name = f"team{listeners}"
            server.execute(f"CREATE DATABASE {name}")
            url = server.url(name)
            first = host(work / f"{name}-a", url)
            configure(first, work / f"{name}-a", options.creation)
            key = work / f"{name}-a" / "data" / "mailsiren" / "mailsiren.key"
            others = [host(work / f"{name}-{n}", url, key) for n in "bc"[: listeners - 1]]
            rate = serve_and_drive([first, *others], options)
            with psycopg.connect(server.libpq_url(name)) as connection:
                stored = connection.execute("SELECT count(*) FROM mail").fetchone()[0]
            results.append((listeners, rate, stored))
    finally:
        server.stop()

    sent = options.mails // 2 * 2
    print(
        f"load: smtp-source, {options.sessions} sessions, {sent} mails of {options.size} B, "
        f"one source, creation {options.creation}"
    )
    print(f"SQLite, 1 listener (embedded default): {sqlite_rate:7.0f} mails/s  "
          f"stored {sqlite_stored}/{sent}")  # fmt: skip
    for listeners, rate, stored in results:
        print(f"PostgreSQL, {listeners} listener{'s' if listeners > 1 else ' '}:          "
              f"{rate:7.0f} mails/s  stored {stored}/{sent}  "
              f"ratio to SQLite {rate / sqlite_rate:.2f}")  # fmt: skip
    lost = [stored for _, _, stored in results if stored != sent] + (
        [sqlite_stored] if sqlite_stored != sent else []
    )
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
