"""Helpers to drive the app as a person would and wait for its workers, never for time."""

from __future__ import annotations

from textual.widgets import Input


async def settle(app, pilot) -> None:
    """Wait until every worker is done and the messages it posted are handled."""
    await app.workers.wait_for_complete()
    await pilot.pause()


async def type_into(pilot, selector: str, text: str) -> None:
    pilot.app.screen.query_one(selector, Input).focus()
    await pilot.pause()
    await pilot.press(*text)
