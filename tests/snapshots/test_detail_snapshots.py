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


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
def test_incident_detail_with_a_note_an_owner_and_a_reply(
    snap_compare, workspace, monkeypatch, paris, size
):
    """§13-14: the summary names the owner, the replies and the latest note; the timeline
    shows the reply as who wrote it and its first line."""
    from app.core.incidents.views import assign_incident, note_incident
    from app.core.intake.pipeline import ingest_mail
    from app.core.intake.sources import save_source
    from tests.mails import alert_mail

    monkeypatch.setattr("app.ui.display.now", lambda: FROZEN)
    source = "nagios@alerts.example.com"
    save_source(workspace.database, workspace.user,
                {"name": "nagios", "address": source, "creation": "per_subject"},
                clock=lambda: FROZEN)  # fmt: skip
    alert = alert_mail("** PROBLEM web01/Disk /var is CRITICAL **", "DISK CRITICAL - 3% free",
                       message_id="<a1@mon.example.net>")  # fmt: skip
    reply = alert_mail("RE: ** PROBLEM web01/Disk /var is CRITICAL **",
                       "Looking at it: /var/log is 40 GB.\n\n> DISK CRITICAL",
                       sender="Bob Smith <bob@ops.example.com>", message_id="<r1@ops.example.com>",
                       headers={"In-Reply-To": "<a1@mon.example.net>"})  # fmt: skip
    for raw in (alert, reply):
        ingest_mail(workspace.database, raw, [source], via="smtp", clock=lambda: FROZEN)
    note_incident(workspace.database, workspace.user, 1,
                  "rotated /var/log\ndisk at 60% now", clock=lambda: FROZEN)  # fmt: skip
    assign_incident(workspace.database, workspace.user, 1, "alice", clock=lambda: FROZEN)
    app = MailsirenApp(workspace, initial_mode="incidents")
    assert snap_compare(app, terminal_size=size, run_before=open_detail)


def test_the_note_form_at_80x24(snap_compare, workspace, monkeypatch, paris):
    from app.core.intake.pipeline import ingest_mail
    from app.core.intake.sources import save_source
    from tests.mails import alert_mail

    monkeypatch.setattr("app.ui.display.now", lambda: FROZEN)
    source = "nagios@alerts.example.com"
    save_source(workspace.database, workspace.user, {"name": "nagios", "address": source},
                clock=lambda: FROZEN)  # fmt: skip
    ingest_mail(workspace.database, alert_mail("** PROBLEM web01/Disk /var is CRITICAL **"),
                [source], via="smtp", clock=lambda: FROZEN)  # fmt: skip

    async def write_note(pilot) -> None:
        await settle(pilot)
        await pilot.press("N", *"disk full on /var", "enter", *"rotated the logs")
        await settle(pilot)

    app = MailsirenApp(workspace, initial_mode="incidents")
    assert snap_compare(app, terminal_size=(80, 24), run_before=write_note)
