"""The notifier of `serve`: takes due escalation steps and sends the outbox.

It runs as a thread of serve's storage child (`NotifierThread`): a process of its own would
import the same database layer again, ~70 MiB for a loop that wakes twice a second. It works
from the database alone, on its own connection: escalation timers and retries are rows, so a
new notifier (the storage child started again) carries on where the last one stopped. It
stops when the storage child does, after finishing the run under way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from datetime import datetime, timedelta

log = logging.getLogger("mailsiren.notifier")

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
    # The daily prune runs in a thread of its own: a first prune of years of mail takes
    # minutes, and pages must not wait for it. It stops after its batch when serve stops.
    pruning: asyncio.Future | None = None

    def keep_pruning() -> bool:  # asked from the prune's thread, before each batch
        return not stop.is_set()

    while not stop.is_set():
        try:
            if time.monotonic() - watched_at >= WATCH_SECONDS:
                for silence_id in release_ended_silences(database, clock=clock):
                    log.info("silence #%s ended: what it held and is open is paged", silence_id)
                for incident_id in open_due_heartbeats(database, clock=clock):
                    log.info("incident #%s: a source's heartbeat is overdue", incident_id)
                for incident_id, state in time_out_incidents(database, clock=clock):
                    log.info("incident #%s timed out: %s", incident_id, state)
                if pruning is not None and pruning.done():
                    pruning = None
                if pruning is None and (
                    retention_checked_at is None
                    or clock() - retention_checked_at >= RETENTION_CHECK
                ):
                    retention_checked_at = clock()
                    pruning = asyncio.get_running_loop().run_in_executor(
                        None, _prune_and_log, prune_if_due, database, clock, keep_pruning
                    )
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
    if pruning is not None:  # it ends after the batch under way
        await asyncio.wait([pruning])


def _prune_and_log(prune_if_due, database, clock, keep_going) -> None:
    """In the prune's thread: the daily prune if due, and what it did or why it failed
    (the next check, an hour later, tries again)."""
    try:
        pruned = prune_if_due(database, clock=clock, keep_going=keep_going)
    except Exception:  # noqa: BLE001 - logged; the mails are still there for the next one
        log.exception("retention: the prune failed")
        return
    if pruned is not None and pruned.mails:
        log.info("retention: pruned %s mails, %s bytes", pruned.mails, pruned.bytes)


def _seconds_until(moment: datetime | None, now: datetime) -> float:
    if moment is None:
        return POLL_SECONDS
    return max(0.0, min(POLL_SECONDS, (moment - now).total_seconds()))


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class NotifierThread:
    """The notifier's loop in a thread of its own (of the storage child), on its own
    connection; `stop()` lets the run under way finish (at most STOP_SECONDS)."""

    def __init__(self, database_url: str, keyring) -> None:
        self.database_url = database_url
        self.keyring = keyring
        self.loop = asyncio.new_event_loop()
        self.stopping = asyncio.Event()  # bound to `loop` on first use, set only through it
        self.thread = threading.Thread(target=self._run, name="notifier", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(STOP_SECONDS)
        if self.thread.is_alive():
            log.error("the notifier did not stop within %s s; leaving it", STOP_SECONDS)

    def _run(self) -> None:
        try:
            self.loop.run_until_complete(self._notify())
        finally:
            self.loop.close()

    async def _notify(self) -> None:
        from app import paths
        from app.core.sending.shared import load_shared_config
        from app.core.store.db import open_database

        shared_path = paths.shared_config_file()
        # This serve's name among the team's: one serve runs per data folder (its lock).
        node = f"{socket.gethostname()}:{paths.data_dir()}"
        while not self.stopping.is_set():
            database = None
            try:
                # The storage child has migrated it already.
                database = open_database(self.database_url, self.keyring, migrate=False)
                await notify_until(
                    self.stopping, database, lambda: load_shared_config(shared_path), node=node
                )
            except Exception:  # noqa: BLE001 - the database is away: try again, as a new child did
                log.exception("the notifier stopped; starting it again")
                await _wait(self.stopping, RESTART_SECONDS)
            finally:
                if database is not None:
                    database.dispose()
