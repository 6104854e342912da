"""Dispatch throughput: N queued notifications sent to Postfix's smtp-sink over one reused
connection, against the same number of mails sent by a bare aiosmtplib loop (the reference).

    .venv/bin/python bench/dispatch.py --notifications 2000

It prints both rates and their ratio. The dispatcher's figure includes reading the outbox,
rendering each mail, and committing every attempt (SQLite, synchronous=FULL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_sink(port: int) -> subprocess.Popen:
    arguments = [SMTP_SINK]
    if os.geteuid() == 0:
        arguments += ["-u", "nobody"]
    process = subprocess.Popen([*arguments, f"127.0.0.1:{port}", "64"])
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.02)  # a readiness check on an outside process, not a measurement
    raise SystemExit("smtp-sink did not start (apt-get install -y postfix)")


async def reference(port: int, count: int) -> float:
    """The same mails, one session, nothing recorded: the ceiling of aiosmtplib here."""
    import aiosmtplib

    from app.core.notifications.notice import build_message

    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await client.connect()
    started = time.perf_counter()
    for number in range(count):
        message = build_message(
            to="ops@example.com", subject=f"[ALERT] #{number} bench", body="x\n" * 20,
            message_id=f"<{number}@bench>", now=__import__("datetime").datetime.now(),
        )  # fmt: skip
        message["From"] = "siren@example.com"
        await client.sendmail("siren@example.com", ["ops@example.com"], message.as_bytes())
    elapsed = time.perf_counter() - started
    await client.quit()
    return count / elapsed


def dispatcher_rate(port: int, count: int) -> tuple[float, int]:
    home = Path(tempfile.mkdtemp(prefix="mailsiren-bench-dispatch-"))
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    from app.core.configfile import import_config
    from app.core.intake.pipeline import IncomingMail, ingest_batch
    from app.core.notifications.deliveries import list_deliveries
    from app.core.notifications.dispatcher import Dispatcher
    from app.core.sending.personal import SmtpForm, save_preferences
    from app.core.workspace import open_workspace

    workspace = open_workspace()
    database, user = workspace.database, workspace.user
    # Storm control allows at most 1000 mails per address per window: spread over addresses.
    addresses = 4
    integrations = "".join(
        f'[[integration]]\naddress = "ops{k}@example.com"\nlevel = "all"\n'
        for k in range(addresses)
    )
    import_config(
        database, user,
        '[org]\nstorm_limit = 1000\nstorm_window_minutes = 1\n'
        '[[source]]\nname = "bench"\naddress = "bench@alerts.example.com"\n' + integrations,
    )  # fmt: skip
    save_preferences(
        database,
        user,
        SmtpForm("127.0.0.1", str(port), tls_mode="none", from_address="s@example.com"),
    )
    incidents = count // addresses
    for start in range(0, incidents, 200):
        batch = [
            IncomingMail(
                f"Subject: PROBLEM host{n} is DOWN\r\nMessage-ID: <{n}@b>\r\n\r\nbody {n}\r\n".encode(),
                ("bench@alerts.example.com",), "ingest",
            )
            for n in range(start, min(start + 200, incidents))
        ]  # fmt: skip
        ingest_batch(database, batch)
    dispatcher = Dispatcher(database, workspace.shared_config)
    started = time.perf_counter()
    sent = 0
    while sent < count:
        attempted = asyncio.run(dispatcher.run_once())
        if not attempted:
            break
        sent += attempted
    elapsed = time.perf_counter() - started
    delivered = sum(d.status == "sent" for d in list_deliveries(database, user, limit=count + 10))
    workspace.close()
    shutil.rmtree(home, ignore_errors=True)
    return delivered / elapsed, delivered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=2000)
    arguments = parser.parse_args()
    port = free_port()
    sink = start_sink(port)
    try:
        ours, delivered = dispatcher_rate(port, arguments.notifications)
        ceiling = asyncio.run(reference(port, arguments.notifications))
    finally:
        sink.terminate()
        sink.wait()
    print(f"notifications queued and sent:   {delivered} (to 4 addresses, one session)")
    print(f"aiosmtplib loop, nothing stored: {ceiling:8.0f} mails/s (reference)")
    print(f"mailsiren dispatcher:            {ours:8.0f} notifications/s")
    print(f"ratio:                           {ours / ceiling:8.2f}  (target: at least 200/s)")
    return 0 if delivered == arguments.notifications // 4 * 4 else 1


if __name__ == "__main__":
    raise SystemExit(main())
