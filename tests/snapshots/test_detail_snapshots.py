"""Snapshots of the incident detail with its notifications, at 80×24 (over SSH) and 120×36,
in a fixed zone (Europe/Paris) so that the times and the zone's name do not depend on the host."""

from __future__ import annotations

import pytest

from app.ui.app import MailsirenApp
from app.ui.screens.incident_detail import IncidentDetailScreen
from tests.clock import time_zone
from tests.fixtures.notifications import with_notifications
from tests.snapshots.test_snapshots import FROZEN, settle


@pytest.fixture
def paris():
    with time_zone("Europe/Paris"):
        yield


def notified_app(workspace, monkeypatch) -> MailsirenApp:
    monkeypatch.setattr("app.ui.display.now", lambda: FROZEN)
    with_notifications(workspace, FROZEN)
    return MailsirenApp(workspace, initial_mode="integrations")


async def open_detail(pilot) -> None:
    await settle(pilot)
    pilot.app.push_screen(IncidentDetailScreen(1))  # sent, retrying and failed notifications
    await settle(pilot)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
def test_incident_detail_with_its_notifications(snap_compare, workspace, monkeypatch, paris, size):
    app = notified_app(workspace, monkeypatch)
    assert snap_compare(app, terminal_size=size, run_before=open_detail)


def test_incident_detail_reading_a_mail_at_80x24(snap_compare, workspace, monkeypatch, paris):
    """enter on a mail: on a short terminal the mail takes the lists' room."""

    async def read_mail(pilot) -> None:
        await open_detail(pilot)
        await pilot.press("enter")
        await settle(pilot)

    app = notified_app(workspace, monkeypatch)
    assert snap_compare(app, terminal_size=(80, 24), run_before=read_mail)


def test_source_mail_log_at_80x24(snap_compare, workspace, monkeypatch, paris):
    async def open_log(pilot) -> None:
        await settle(pilot)
        await pilot.press("2")  # the sources area
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)

    app = notified_app(workspace, monkeypatch)
    assert snap_compare(app, terminal_size=(80, 24), run_before=open_log)
