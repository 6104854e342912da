"""Snapshots draw local times and the zone's name: every snapshot runs in UTC unless a test
asks for another zone, so that they pass on any host. A focused field's cursor is drawn and
never blinks, so that a screenshot taken half a second later is the same picture."""

from __future__ import annotations

import pytest
from textual.widgets import Input, TextArea

from tests.clock import time_zone


@pytest.fixture(autouse=True)
def utc_host():
    with time_zone("UTC"):
        yield


@pytest.fixture(autouse=True)
def steady_cursor(monkeypatch):
    """The blink timer toggles the cursor every 0.5 s: on a loaded machine a snapshot fell
    on the hidden half (CI drew the source editor's Name field without its cursor)."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
    monkeypatch.setattr(TextArea, "_toggle_cursor_blink_visible", lambda self: None)
