"""Helpers to drive the app as a person would and wait for its workers, never for time."""

from __future__ import annotations

import contextlib

from textual.widgets import DataTable, Input
from textual.worker import WorkerCancelled, WorkerState

BUSY = (WorkerState.PENDING, WorkerState.RUNNING)


async def settle(app, pilot) -> None:
    """Wait until every worker is done and the messages it posted are handled.

    A handler may start the next worker (a screen mounted after a key, a preview after its
    samples): wait again until a pause leaves no worker pending or running.
    """
    quiet_before = False
    for _ in range(100):
        await workers_done(app)
        await pilot.wait_for_scheduled_animations()  # a scroll into view moves scrollbars
        await pilot.pause()
        quiet = not any(worker.state in BUSY for worker in app.workers) and not tables_pending(app)
        if quiet and quiet_before:  # twice: what the last change asked to redraw is drawn
            return
        quiet_before = quiet
    raise AssertionError("workers kept starting one another: the app never settled")


async def workers_done(app) -> None:
    """Wait for every worker to end. An exclusive worker that a newer one replaced ends
    cancelled, by design: it is done, not an error (`wait_for_complete` would raise)."""
    for worker in list(app.workers):
        with contextlib.suppress(WorkerCancelled):
            await worker.wait()


def tables_pending(app) -> bool:
    """A DataTable measures new rows' column widths when its own queue goes idle, which may
    come after the app's: a screenshot taken before shows columns cut to their labels."""
    return any(
        table._require_update_dimensions or table._updated_cells  # noqa: SLF001
        for table in app.screen.query(DataTable)
    )


async def type_into(pilot, selector: str, text: str) -> None:
    pilot.app.screen.query_one(selector, Input).focus()
    await pilot.pause()
    await pilot.press(*text)
