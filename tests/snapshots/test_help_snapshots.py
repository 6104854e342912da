"""Snapshots of the help screen over the incident log at 80×24: its first page, and scrolled
to the end of the log's own keys."""

from __future__ import annotations

from app.ui.app import MailsirenApp
from tests.snapshots.test_snapshots import settle, with_incidents


def test_help_over_the_incident_log(snap_compare, workspace, monkeypatch):
    with_incidents(workspace, monkeypatch)

    async def open_help(pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(MailsirenApp(workspace), terminal_size=(80, 24), run_before=open_help)


def test_help_scrolled_to_the_last_keys(snap_compare, workspace, monkeypatch):
    with_incidents(workspace, monkeypatch)

    async def scroll_help(pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        await pilot.press("G")  # the last row: Everywhere's keys, the log's last ones above
        await settle(pilot)

    assert snap_compare(MailsirenApp(workspace), terminal_size=(80, 24), run_before=scroll_help)
