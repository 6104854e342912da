"""Helpers to drive the app as a person would and wait for its workers, never for time."""

from __future__ import annotations

from textual.widgets import Input
from textual.worker import WorkerState

BUSY = (WorkerState.PENDING, WorkerState.RUNNING)


async def settle(app, pilot) -> None:
    """Wait until every worker is done and the messages it posted are handled.

    A handler may start the next worker (a screen mounted after a key, a preview after its
    samples): wait again until a pause leaves no worker pending or running.
    """
    for _ in range(100):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(worker.state in BUSY for worker in app.workers):
            return
    raise AssertionError("workers kept starting one another: the app never settled")


async def type_into(pilot, selector: str, text: str) -> None:
    pilot.app.screen.query_one(selector, Input).focus()
    await pilot.pause()
    await pilot.press(*text)
