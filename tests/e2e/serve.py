"""`mailsiren serve` as a real process on a free port, stopped with SIGTERM at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.peers import free_port, wait_for_port
from tests.e2e.process import MAILSIREN, mailsiren_json


@dataclass
class ServeProcess:
    port: int
    process: subprocess.Popen
    log: object  # the file that receives its stderr

    def output(self) -> str:
        self.log.seek(0)  # type: ignore[attr-defined]
        return self.log.read().decode(errors="replace")  # type: ignore[attr-defined]


@contextmanager
def running_serve(
    *, graceful: bool = True, env: dict | None = None, arguments: tuple[str, ...] = ()
) -> Iterator[ServeProcess]:
    """Start serve (with `env` added to the environment, `arguments` after its own); at the
    end stop it with SIGTERM and check that it exits 0."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [*MAILSIREN, "serve", "--smtp-port", str(port), *arguments],
            stdout=log,
            stderr=log,
            env={**os.environ, **(env or {})},
        )
        serving = ServeProcess(port, process, log)
        try:
            wait_for_port(port, seconds=20)
            yield serving
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
            if graceful:
                assert code == 0, serving.output()


def child_pids(serve_pid: int, module: str) -> list[int]:
    """The pids of serve's children that run `python -m MODULE` (storage, notifier)."""
    found = []
    children = Path(f"/proc/{serve_pid}/task/{serve_pid}/children").read_text().split()
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # it exited meanwhile
        if module.encode() in command:
            found.append(int(child))
    return found


def recorded_as_sent(count: int, *, env: dict | None = None, seconds: float = 30.0) -> list:
    """Poll the delivery log (serve's notifiers write it) until `count` rows are sent."""
    deadline = time.monotonic() + seconds
    while True:
        rows = mailsiren_json("deliveries", "list", env=env)
        if sum(row["status"] == "sent" for row in rows) >= count:
            return rows
        assert time.monotonic() < deadline, rows


def notifying_through(server) -> None:
    """The tests' notifications setup: personal SMTP to `server`, the corpus's sources, and
    one integration that takes every severity (ops@example.com)."""
    from tests.e2e.process import mailsiren

    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    configured = mailsiren(
        "smtp", "set", "--server", "localhost", "--port", str(server.port),
        "--from", "siren@example.com",
    )  # fmt: skip
    assert configured.returncode == 0, configured.stderr
    assert mailsiren("config", "import", str(fixtures / "sources.toml")).returncode == 0
    added = mailsiren(
        "integrations", "add", "--address", "ops@example.com", "--level", "all", "--yes"
    )
    assert added.returncode == 0, added.stderr
