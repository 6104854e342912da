"""Snapshots draw local times and the zone's name: every snapshot runs in UTC unless a test
asks for another zone, so that they pass on any host. A focused field's cursor is drawn and
never blinks, so that a screenshot taken half a second later is the same picture. Paths on
screen do not depend on the test's folder: the shared configuration is a relative path."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, TextArea

from tests.clock import time_zone

# The shared configuration as the SMTP screen shows it: relative, in the test's own folder.
SHARED_CONFIG = Path("mailsiren.conf")


@pytest.fixture(autouse=True)
def utc_host():
    with time_zone("UTC"):
        yield


@pytest.fixture(autouse=True)
def shared_config_in_the_test_folder(tmp_path, monkeypatch) -> Path:
    """Run in tmp_path, the shared configuration at SHARED_CONFIG there (absent unless a test
    writes it), so that 4 workers never share a file and the screen shows the same path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MAILSIREN_SHARED_CONFIG", str(SHARED_CONFIG))
    return tmp_path / SHARED_CONFIG


@pytest.fixture(autouse=True)
def steady_cursor(monkeypatch):
    """The blink timer toggles the cursor every 0.5 s: on a loaded machine a snapshot fell
    on the hidden half (CI drew the source editor's Name field without its cursor)."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
    monkeypatch.setattr(TextArea, "_toggle_cursor_blink_visible", lambda self: None)
