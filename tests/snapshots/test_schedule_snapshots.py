"""Snapshots of the on-call schedules on the Integrations screen (SPEC §18), at 120×36 and
80×24: who is on call now and next with the handoff in the schedule's time, and the override
form (a user picked, `until 18:00`)."""

from __future__ import annotations

import pytest

from app.ui.app import MailsirenApp
from tests.fixtures.notifications import with_notifications
from tests.snapshots.test_snapshots import FROZEN, settle
from tests.ui.test_schedules_screen import with_a_schedule


def scheduled_app(workspace, monkeypatch) -> MailsirenApp:
    monkeypatch.setattr("app.ui.display.now", lambda: FROZEN)
    with_notifications(workspace, FROZEN)
    with_a_schedule(workspace)
    return MailsirenApp(workspace, initial_mode="integrations")


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
def test_schedules_now_and_next(snap_compare, workspace, monkeypatch, size):
    async def to_the_schedules(pilot) -> None:
        await settle(pilot)
        await pilot.press("tab", "tab")
        await settle(pilot)

    app = scheduled_app(workspace, monkeypatch)
    assert snap_compare(app, terminal_size=size, run_before=to_the_schedules)


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
def test_override_form(snap_compare, workspace, monkeypatch, size):
    async def open_form(pilot) -> None:
        await settle(pilot)
        await pilot.press("tab", "tab", "n", "down", "enter", "ctrl+a", "ctrl+k", *"until 18:00")
        await settle(pilot)

    app = scheduled_app(workspace, monkeypatch)
    assert snap_compare(app, terminal_size=size, run_before=open_form)
