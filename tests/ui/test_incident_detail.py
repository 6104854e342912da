"""The incident detail by keyboard: every notification on the timeline, the raw mail copied
(or, once pruned, why not), times in the UI's zone (named once), and a readable timeline at
80×24."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from textual.widgets import Static

from app.core.incidents.views import change_state
from app.core.store.retention import prune_mails
from app.core.users import add_user, ensure_user
from app.ui.app import MailsirenApp
from app.ui.display import when
from app.ui.screens.incident_detail import IncidentDetailScreen
from app.ui.widgets.timeline import TimelineTable
from tests.clock import time_zone
from tests.fixtures.notifications import with_notifications
from tests.snapshots.test_snapshots import FROZEN
from tests.ui.pilot import settle


@pytest.fixture
def paris():
    with time_zone("Europe/Paris"):
        yield


@pytest.fixture
def notified(workspace, monkeypatch):
    """Incident #1 (opened 09:05 UTC) with its notifications sent, retrying and failed."""
    monkeypatch.setattr("app.ui.display.now", lambda: FROZEN)
    with_notifications(workspace, FROZEN)
    return workspace


def timeline(app) -> list[tuple[str, ...]]:
    table = app.screen.query_one(TimelineTable)
    return [tuple(str(cell) for cell in table.get_row_at(row)) for row in range(table.row_count)]


def summary(app) -> str:
    return str(app.screen.query_one("#summary", Static).render())


async def open_detail(app, pilot, incident_id: int = 1) -> None:
    await settle(app, pilot)
    app.push_screen(IncidentDetailScreen(incident_id))
    await settle(app, pilot)


async def test_the_timeline_shows_every_notification_with_address_event_status_and_time(
    notified, paris
):
    app = MailsirenApp(notified, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_detail(app, pilot)
        rows = timeline(app)
        kinds = [row[1] for row in rows]
        assert kinds[0] == "created"
        notifications = {row[1]: row for row in rows if "notif" in row[1]}
        assert set(notifications) == {"notified", "notification failed", "notification retrying"}
        sent = notifications["notified"]
        assert sent[0] == "2026-11-21 10:06:00"  # sent 09:06 UTC, shown in Paris time
        assert sent[-1].startswith("ops@example.com · opened")
        failed = notifications["notification failed"][-1]
        assert failed.startswith("nobody@example.com · opened · 550 5.1.1")
        assert (
            "noc-list@example.com · opened · 2 tries" in notifications["notification retrying"][-1]
        )


async def test_times_are_local_with_the_zone_named_once_or_utc_when_configured(notified, paris):
    app = MailsirenApp(notified, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_detail(app, pilot)
        assert "opened 2026-11-21 10:05:00" in summary(app)
        assert app.screen.query_one(TimelineTable).border_title == (
            "Timeline · times in CET (UTC+01:00)"
        )
        assert "UTC" not in summary(app)
    notified.settings = replace(notified.settings, time="utc")
    app = MailsirenApp(notified, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_detail(app, pilot)
        assert "opened 2026-11-21 09:05:00" in summary(app)
        assert app.screen.query_one(TimelineTable).border_title == "Timeline · times in UTC"
        assert timeline(app)[0][0] == "2026-11-21 09:05:00"


async def test_at_80_columns_the_timeline_detail_is_readable(notified):
    app = MailsirenApp(notified, initial_mode="integrations")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(app, pilot)
        details = [row[-1] for row in timeline(app)]
        assert "opened by mail 1" in details
        assert any(detail.startswith("nobody@example.com · opened · 550") for detail in details)
        table = app.screen.query_one(TimelineTable)
        assert table.virtual_size.width <= table.scrollable_content_region.width  # no h-scroll


async def test_c_copies_the_raw_mail_through_the_terminal(notified):
    app = MailsirenApp(notified, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_detail(app, pilot)
        await pilot.press("c")
        assert app.clipboard.startswith("From: nagios@mon.example.net\r\nSubject: ** PROBLEM")
        assert "Copied the raw source of mail 1" in str(list(app._notifications)[-1].message)


async def test_a_user_who_may_not_see_connections_is_told_why_notifications_are_missing(
    notified,
):
    add_user(notified.database, notified.user, "triager", permissions=["triage"])
    notified.user = ensure_user(notified.database, "triager")
    app = MailsirenApp(notified, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_detail(app, pilot)
        assert [row[1] for row in timeline(app)][0] == "created"
        assert not any("notif" in row[1] for row in timeline(app))
        assert "view_connections" in app.screen.query_one(TimelineTable).border_subtitle


async def test_at_80x24_a_mail_read_takes_the_lists_room_and_esc_gives_it_back(notified):
    app = MailsirenApp(notified, initial_mode="integrations")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(app, pilot)
        lists = app.screen.query_one("#lists")
        await pilot.press("enter")  # read the mail
        await settle(app, pilot)
        assert app.screen.query_one("#mail-scroll").has_focus and not lists.display
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, IncidentDetailScreen) and lists.display
        assert app.screen.query_one("#mails").has_focus
        await pilot.press("escape")
        assert not isinstance(app.screen, IncidentDetailScreen)


async def test_a_pruned_mail_says_so_and_c_cannot_copy_it(notified):
    change_state(notified.database, notified.user, "resolve", [1], clock=lambda: FROZEN)
    later = FROZEN + timedelta(days=40)
    assert prune_mails(notified.database, timedelta(days=30), clock=lambda: later).mails >= 1
    app = MailsirenApp(notified, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_detail(app, pilot)
        view = app.screen.query_one("#mail-view", Static)
        shown = str(view.render())
        assert f"This mail's text was pruned on {when(later)} (retention)" in shown
        assert "Subject: ** PROBLEM" in shown  # the subject stays
        await pilot.press("R")
        assert "This mail's text was pruned on" in str(view.render())
        await pilot.press("c")
        assert app.clipboard == ""
        notice = str(list(app._notifications)[-1].message)
        assert "has no raw source to copy: it was pruned on" in notice


async def test_the_mails_are_read_a_window_at_a_time_as_the_cursor_moves(workspace, monkeypatch):
    from app.ui.screens import incident_detail
    from tests.ui.test_incident_log import receive, with_sources

    monkeypatch.setattr(incident_detail, "MAIL_WINDOW", 6)
    monkeypatch.setattr(incident_detail, "EDGE_ROWS", 2)
    with_sources(workspace, creation="per_subject")
    for number in range(15):
        incident = receive(workspace, "disk full on web01", body=f"reading {number}")
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await open_detail(app, pilot, incident)
        screen = app.screen
        mails = screen.query_one("#mails")
        view = screen.query_one("#mail-view", Static)
        assert mails.row_count == 6 and "reading 14" in str(view.render())  # the newest
        assert mails.border_title == "Mails (enter: read) · 6 of 15"
        for _ in range(12):  # up, past the window's top: older mails are read on the way
            await pilot.press("k")
            await settle(app, pilot)
        assert "reading 2" in str(view.render()) and mails.row_count == 6
        await pilot.press("G")
        await settle(app, pilot)
        assert "reading 14" in str(view.render())
        await pilot.press("g")
        await settle(app, pilot)
        assert "reading 0" in str(view.render())
