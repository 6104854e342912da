"""The notifier child of `serve`: takes due escalation steps and sends the outbox.

`serve` starts `python -m app.server.notifier` beside the storage child and starts it
again if it dies. It works from the database alone: escalation timers and retries are rows,
so a new notifier carries on where the last one stopped. It stops when `serve` closes its
stdin, after finishing the run under way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from datetime import datetime, timedelta

log = logging.getLogger("mailsiren.notifier")

NOTIFIER_MODULE = "app.server.notifier"
POLL_SECONDS = 0.5  # how soon a newly queued notification or escalation is noticed
RESTART_SECONDS = 2.0
STOP_SECONDS = 20.0
WATCH_SECONDS = (
    5.0  # how often ended silences, quiet sources and timeouts are looked for (§10, §11, §14)
)
# How often (by the injected clock) retention asks whether its daily prune is due (§17); the
# database decides: a prune that emptied mails less than a day ago, by any serve, says no.
RETENTION_CHECK = timedelta(hours=1)


async def notify_until(
    stop: asyncio.Event,
    database,
    shared_config,
    *,
    clock=None,
    stage_timeout=30.0,
    node: str | None = None,
) -> None:
    """Escalate and dispatch until `stop` is set (the child's loop; tests drive it too)."""
    from app.core.incidents.escalation import take_due_steps
    from app.core.incidents.heartbeats import open_due_heartbeats
    from app.core.incidents.silences import release_ended_silences
    from app.core.incidents.timeouts import time_out_incidents
    from app.core.notifications.dispatcher import Dispatcher
    from app.core.store.db import utc_now
    from app.core.store.retention import prune_if_due

    clock = clock or utc_now
    dispatcher = Dispatcher(
        database, shared_config, clock=clock, stage_timeout=stage_timeout, node=node
    )
    released = dispatcher.release_own_claims()
    if released:
        log.info("took back %s notifications a previous notifier had claimed", released)
    watched_at = float("-inf")
    retention_checked_at: datetime | None = None
    while not stop.is_set():
        try:
            if time.monotonic() - watched_at >= WATCH_SECONDS:
                for silence_id in release_ended_silences(database, clock=clock):
                    log.info("silence #%s ended: what it held and is open is paged", silence_id)
                for incident_id in open_due_heartbeats(database, clock=clock):
                    log.info("incident #%s: a source's heartbeat is overdue", incident_id)
                for incident_id, state in time_out_incidents(database, clock=clock):
                    log.info("incident #%s timed out: %s", incident_id, state)
                if (
                    retention_checked_at is None
                    or clock() - retention_checked_at >= RETENTION_CHECK
                ):
                    retention_checked_at = clock()
                    pruned = prune_if_due(database, clock=clock)
                    if pruned is not None and pruned.mails:
                        log.info("retention: pruned %s mails, %s bytes", pruned.mails, pruned.bytes)
                watched_at = time.monotonic()
            for step in take_due_steps(database, clock=clock):
                log.info(
                    "incident #%s: %s step %s paged %s",
                    step.incident_id,
                    step.policy,
                    step.step,
                    step.whom,
                )
            await dispatcher.run_once()
        except Exception:  # noqa: BLE001 - a bad run is logged; the rows are still there
            log.exception("notifier run failed; trying again")
            await _wait(stop, RESTART_SECONDS)
            continue
        await _wait(stop, _seconds_until(dispatcher.next_wakeup(), clock()))


def _seconds_until(moment: datetime | None, now: datetime) -> float:
    if moment is None:
        return POLL_SECONDS
    return max(0.0, min(POLL_SECONDS, (moment - now).total_seconds()))


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def main() -> int:
    """`python -m app.server.notifier`: the child `serve` starts; never run by hand."""
    for signal_number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signal_number, signal.SIG_IGN)  # serve tells us to stop by closing stdin
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from app import paths
    from app.core.sending.shared import load_shared_config
    from app.core.store.db import open_database
    from app.core.store.secrets import load_or_create_keyring
    from app.errors import MailsirenError

    try:
        keyring = load_or_create_keyring(paths.key_file())
        database = open_database(os.environ["MAILSIREN_DB"], keyring)
    except MailsirenError as error:
        print(f"mailsiren notifier: {error}", file=sys.stderr, flush=True)
        return 1
    shared_path = paths.shared_config_file()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

        async def until_stdin_closes() -> None:
            await reader.read()
            stop.set()

        watcher = asyncio.create_task(until_stdin_closes())
        # This serve's name among the team's: one serve runs per data folder (its lock).
        node = f"{socket.gethostname()}:{paths.data_dir()}"
        await notify_until(stop, database, lambda: load_shared_config(shared_path), node=node)
        watcher.cancel()

    try:
        asyncio.run(run())
    finally:
        database.dispose()
    return 0


class NotifierProcess:
    """`serve`'s handle on the notifier child: started, restarted if it dies, stopped."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.process: asyncio.subprocess.Process | None = None
        self.keeper: asyncio.Task | None = None
        self.stopping = False

    async def start(self) -> None:
        self.keeper = asyncio.create_task(self._keep_running())

    async def _keep_running(self) -> None:
        environment = {**os.environ, "MAILSIREN_DB": self.database_url}
        while not self.stopping:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                NOTIFIER_MODULE,
                env=environment,
                stdin=asyncio.subprocess.PIPE,
            )
            status = await self.process.wait()
            if not self.stopping:
                log.error("the notifier stopped (status %s); starting it again", status)
                await asyncio.sleep(RESTART_SECONDS)

    async def close(self) -> None:
        """Close the child's stdin and wait for it to finish its run (kill it after 20 s)."""
        self.stopping = True
        while self.process is not None and self.process.returncode is None:
            process = self.process
            if process.stdin is not None:
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), STOP_SECONDS)
            except TimeoutError:
                log.error("the notifier did not stop within %s s; killing it", STOP_SECONDS)
                process.kill()
                await process.wait()
        if self.keeper is not None:
            self.keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.keeper


if __name__ == "__main__":
    raise SystemExit(main())
