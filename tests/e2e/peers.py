"""Outside SMTP peers for tests: Postfix's smtp-sink, started on a free loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, *, seconds: float = 10.0) -> None:
    """Poll until something accepts connections on the port (a readiness check, not a wait)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@contextmanager
def smtp_sink(*options: str, dump_folder: Path | None = None) -> Iterator[int]:
    """Run smtp-sink with the given fault options; yields its port."""
    if not Path(SMTP_SINK).exists():
        raise RuntimeError("smtp-sink is missing: apt-get install -y postfix")
    port = free_port()
    arguments = [SMTP_SINK, *options]
    if os.geteuid() == 0:
        arguments += ["-u", "nobody"]  # smtp-sink refuses to run as root otherwise
    if dump_folder is not None:
        arguments += ["-d", str(dump_folder) + "/%M%S."]
    arguments += [f"127.0.0.1:{port}", "16"]
    process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
