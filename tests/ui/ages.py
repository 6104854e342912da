"""Waiting for a table's next redraw of its ages, by the event it fires, never by sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from app.ui.widgets import keyed_table
from app.ui.widgets.keyed_table import KeyedTable


@contextmanager
def redraws(monkeypatch, every: float = 0.05) -> Iterator[asyncio.Event]:
    """Before the app starts: tables redraw every `every` s, and the event is set on each
    redraw (clear it, move the clock, then wait for it)."""
    assert keyed_table.AGE_SECONDS <= 5  # the real interval: "at least every few seconds"
    monkeypatch.setattr(keyed_table, "AGE_SECONDS", every)
    redrawn = asyncio.Event()
    original = KeyedTable.redraw_rows

    redrawn.tables = []  # type: ignore[attr-defined]  # which tables redrew since the clear

    def redraw_and_say(table: KeyedTable) -> None:
        original(table)
        if table._render_row is not None and table.screen.is_current:  # noqa: SLF001
            redrawn.tables.append(table)  # type: ignore[attr-defined]
            redrawn.set()

    monkeypatch.setattr(KeyedTable, "redraw_rows", redraw_and_say)
    yield redrawn


async def next_redraw(pilot, redrawn: asyncio.Event, table: KeyedTable | None = None) -> None:
    """Until a table (this one, when given) has redrawn after now."""
    redrawn.tables.clear()  # type: ignore[attr-defined]

    async def redrawn_as_wanted() -> None:
        while True:
            redrawn.clear()
            await redrawn.wait()
            if table is None or table in redrawn.tables:  # type: ignore[attr-defined]
                return

    await asyncio.wait_for(redrawn_as_wanted(), timeout=10)
    await pilot.pause()
