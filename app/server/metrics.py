"""The metrics child of `serve --metrics-port`: Prometheus text at `/metrics` (SPEC §17).

The child owns the HTTP server (prometheus_client's, one thread per scrape) and reads the
database's figures at scrape time (`app/core/metrics.py`), on its own core and connection:
a scrape never waits on the listener's event loop or the storage child's commits. The
listener's own figures (its 451 replies, the connections open now) live only in the
listener process, so it pushes them to the child's stdin, one JSON line whenever they
change (at most one per turn of its event loop); a scrape reports the last line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from app.errors import MailsirenError

log = logging.getLogger("mailsiren.metrics")

METRICS_MODULE = "app.server.metrics"
READY = "ready"
RESTART_SECONDS = 2.0
STOP_SECONDS = 10.0


class MetricsError(MailsirenError):
    """The metrics endpoint cannot start; the message says why and what to do."""

    title = "Metrics cannot start"


@dataclass
class ListenerFigures:
    """What only the listener process knows, as it last said it."""

    replies_451: dict[str, int] = field(default_factory=dict)  # SMTP command → 451 replies
    connections: int = 0

    def line(self) -> bytes:
        return (json.dumps({"replies_451": self.replies_451, "connections": self.connections}) + "\n").encode()  # fmt: skip

    def read(self, line: bytes) -> None:
        said = json.loads(line)
        self.replies_451 = {str(k): int(v) for k, v in said["replies_451"].items()}
        self.connections = int(said["connections"])


def metrics_url(host: str, port: int) -> str:
    """`http://127.0.0.1:9105/metrics`, `http://[::1]:9105/metrics`."""
    return f"http://[{host}]:{port}/metrics" if ":" in host else f"http://{host}:{port}/metrics"


# The child's side ---------------------------------------------------------------------


class ServeCollector:
    """prometheus_client's collector: the database's figures now, the listener's as pushed."""

    def __init__(self, database, listener: ListenerFigures) -> None:
        self.database = database
        self.listener = listener

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        from app.core.metrics import read_figures

        replies = CounterMetricFamily(
            "mailsiren_listener_451_replies",
            "451 replies the listener gave (storage or lookup failed), by SMTP command, "
            "since serve started",
            labels=["command"],
        )
        for command in ("RCPT", "DATA"):
            replies.add_metric([command], self.listener.replies_451.get(command, 0))
        yield replies
        yield GaugeMetricFamily(
            "mailsiren_listener_connections",
            "SMTP connections open now",
            value=self.listener.connections,
        )
        try:
            figures = read_figures(self.database)
        except Exception:  # noqa: BLE001 - said as a series; the listener's still count
            log.exception("reading the figures for a scrape failed")
            yield GaugeMetricFamily(
                "mailsiren_database_up", "1 if this scrape read the database", value=0
            )
            return
        yield GaugeMetricFamily(
            "mailsiren_database_up", "1 if this scrape read the database", value=1
        )
        yield from database_families(figures)


def database_families(figures):
    """The Prometheus families of a `ServiceFigures`."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    mails = CounterMetricFamily(
        "mailsiren_mails_received",
        "mails stored, by alert source and outcome (a mail to two sources counts for each)",
        labels=["source", "outcome"],
    )
    for (source, outcome), count in sorted(figures.mails.items()):
        mails.add_metric([source, outcome], count)
    yield mails
    incidents = GaugeMetricFamily(
        "mailsiren_incidents_open",
        "incidents open now, by alert source and state",
        labels=["source", "state"],
    )
    for (source, state), count in sorted(figures.open_incidents.items()):
        incidents.add_metric([source, state], count)
    yield incidents
    deliveries = GaugeMetricFamily(
        "mailsiren_deliveries", "notification deliveries by status", labels=["status"]
    )
    for status, count in figures.deliveries.items():
        deliveries.add_metric([status], count)
    yield deliveries
    yield GaugeMetricFamily(
        "mailsiren_outbox_depth",
        "deliveries waiting to be sent (queued or retrying, held ones too)",
        value=figures.outbox_depth,
    )
    yield GaugeMetricFamily(
        "mailsiren_outbox_oldest_age_seconds",
        "how long the longest-waiting due delivery has waited (held ones from their release)",
        value=figures.outbox_oldest_seconds,
    )
    yield GaugeMetricFamily(
        "mailsiren_heartbeats_overdue",
        "watched sources whose heartbeat is overdue",
        value=figures.heartbeats_overdue,
    )
    yield GaugeMetricFamily(
        "mailsiren_silences_active", "silences in force now", value=figures.active_silences
    )


def main() -> int:
    """`python -m app.server.metrics HOST PORT`: the child `serve` starts; never run by hand."""
    for signal_number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signal_number, signal.SIG_IGN)  # serve tells us to stop by closing stdin
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from prometheus_client import CollectorRegistry, start_http_server

    from app import paths
    from app.core.store.db import open_database
    from app.core.store.secrets import load_or_create_keyring

    host, port = sys.argv[1], int(sys.argv[2])
    try:
        keyring = load_or_create_keyring(paths.key_file())
        database = open_database(os.environ["MAILSIREN_DB"], keyring)
    except MailsirenError as error:
        print(f"the metrics child cannot open the database: {error}", flush=True)
        return 1
    listener = ListenerFigures()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServeCollector(database, listener))
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        print(
            f"cannot serve metrics on {host}:{port}: {error.strerror or error}. Choose "
            "another port with --metrics-port, or stop what uses it.",
            flush=True,
        )
        database.dispose()
        return 1
    print(READY, flush=True)
    try:
        for line in sys.stdin.buffer:  # until serve closes our stdin
            listener.read(line)
    finally:
        server.shutdown()
        thread.join()
        database.dispose()
    return 0


# The listener's side ------------------------------------------------------------------


class MetricsProcess:
    """The listener's handle on the metrics child: started (its port bound, or a
    `MetricsError`), told the listener's figures, restarted if it dies, stopped."""

    def __init__(
        self, database_url: str, host: str, port: int, figures: Callable[[], ListenerFigures]
    ) -> None:
        self.database_url = database_url
        self.host, self.port = host, port
        self.figures = figures  # the listener's figures now
        self.process: asyncio.subprocess.Process | None = None
        self.keeper: asyncio.Task | None = None
        self.stopping = False
        self.publish_pending = False

    async def start(self) -> None:
        """Start the child; raise `MetricsError` if it cannot serve (the port is in use)."""
        await self._spawn()
        self.keeper = asyncio.create_task(self._keep_running())

    async def _spawn(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", METRICS_MODULE, self.host, str(self.port),
            env={**os.environ, "MAILSIREN_DB": self.database_url},
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.process.stdout is not None
        said = (await self.process.stdout.readline()).decode(errors="replace").strip()
        if said != READY:
            await self.process.wait()
            raise MetricsError(said or f"the metrics child stopped ({self.process.returncode})")
        self._write()

    async def _keep_running(self) -> None:
        while not self.stopping:
            assert self.process is not None
            status = await self.process.wait()
            if self.stopping:
                return
            log.error("the metrics child stopped (status %s); starting it again", status)
            await asyncio.sleep(RESTART_SECONDS)
            with contextlib.suppress(MetricsError):  # the next turn says it stopped again
                await self._spawn()

    def publish(self) -> None:
        """The listener's figures changed: tell the child, once per turn of the loop."""
        if not self.publish_pending:
            self.publish_pending = True
            asyncio.get_running_loop().call_soon(self._write)

    def _write(self) -> None:
        self.publish_pending = False
        process = self.process
        if process is None or process.stdin is None or process.returncode is not None:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):  # it died: restarted
            process.stdin.write(self.figures().line())

    async def close(self) -> None:
        """Close the child's stdin and wait for it to stop (kill it after 10 s)."""
        self.stopping = True
        if self.keeper is not None:
            self.keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.keeper
        process = self.process
        if process is None or process.returncode is not None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), STOP_SECONDS)
        except TimeoutError:
            log.error("the metrics child did not stop within %s s; killing it", STOP_SECONDS)
            process.kill()
            await process.wait()


if __name__ == "__main__":
    raise SystemExit(main())
