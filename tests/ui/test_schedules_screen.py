"""On-call schedules on the Integrations screen (SPEC §18): who is on call now and next with
the handoff in the schedule's time, and an override added from the keyboard."""

from __future__ import annotations

from app.core.incidents.escalation import parse_policy, save_policy, take_due_steps
from app.core.incidents.schedules import ScheduleSpec, get_schedule, save_schedule
from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import save_source
from app.core.users import add_user
from app.ui.app import MailsirenApp
from app.ui.modals.override_form import OverrideFormModal
from app.ui.screens.incident_detail import IncidentDetailScreen
from app.ui.widgets.schedules_table import SchedulesTable
from app.ui.widgets.timeline import TimelineTable
from tests.mails import alert_mail
from tests.snapshots.test_snapshots import FROZEN  # Sat 2026-11-21 09:30 UTC, 10:30 in Berlin
from tests.ui.pilot import settle

PRIMARY = ScheduleSpec("primary", "Europe/Berlin", ("ann", "bob"), "1w", "2026-11-16T09:00")


def with_a_schedule(workspace) -> None:
    for name in ("ann", "bob", "dave"):
        add_user(workspace.database, workspace.user, name, email=f"{name}@example.com")
    save_schedule(workspace.database, workspace.user, PRIMARY)


def row_text(app) -> list[str]:
    table = app.screen.query_one(SchedulesTable)
    return [str(cell) for cell in table.get_row("primary")]


async def test_a_schedule_shows_now_and_next_and_takes_an_override(workspace, monkeypatch):
    monkeypatch.setattr("app.ui.display.now", lambda: FROZEN)
    with_a_schedule(workspace)
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        assert row_text(app)[2:] == ["ann", "Mon 23 Nov 09:00 CET", "bob"]
        await pilot.press("tab", "tab", "n")  # to the schedules, then n
        assert isinstance(app.screen, OverrideFormModal)
        await pilot.press("down", "enter")  # bob (next on call) is highlighted first: dave
        await pilot.press("ctrl+a", "ctrl+k", *"until 18:00", "enter")
        await settle(app, pilot)
        assert not isinstance(app.screen, OverrideFormModal)
        [override] = get_schedule(workspace.database, "primary").overrides
        assert (override.user, override.starts_at, override.ends_at) == (
            "dave", FROZEN, FROZEN.replace(hour=18, minute=0),
        )  # fmt: skip
        assert row_text(app)[2:] == ["dave (override)", "Sat 21 Nov 19:00 CET", "ann"]


async def test_no_schedule_no_table(workspace):
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        assert not app.screen.query_one(SchedulesTable).display


async def test_a_bad_duration_keeps_the_form_open_saying_why(workspace, monkeypatch):
    monkeypatch.setattr("app.ui.display.now", lambda: FROZEN)
    with_a_schedule(workspace)
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("tab", "tab", "enter", "enter", "ctrl+a", "ctrl+k", *"soon", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, OverrideFormModal)
        assert "'soon' is not a duration" in str(app.screen.query_one(".error").render())
        assert get_schedule(workspace.database, "primary").overrides == ()


async def test_the_incident_detail_names_the_schedule_a_page_went_through(workspace, monkeypatch):
    monkeypatch.setattr("app.ui.display.now", lambda: FROZEN)
    with_a_schedule(workspace)
    database, user = workspace.database, workspace.user
    policy = {"name": "oncall", "step": [{"targets": ["schedule:primary"]}]}
    save_policy(database, user, parse_policy(policy, "policy"))
    source = {"name": "src", "address": "src@alerts.example.com", "escalation_policy": "oncall"}
    save_source(database, user, source)
    mail = alert_mail("PROBLEM web01")
    ingest_mail(database, mail, [source["address"]], via="ingest", clock=lambda: FROZEN)
    take_due_steps(database, clock=lambda: FROZEN)
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        app.push_screen(IncidentDetailScreen(1))
        await settle(app, pilot)
        table = app.screen.query_one(TimelineTable)
        rows = [" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
    assert any("paged ann via schedule primary" in row for row in rows), rows
