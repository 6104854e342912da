"""Notes and owners from the keyboard (SPEC §14): `N` writes a note and `A` gives an owner to
the incident under the cursor, on the log and the detail; the Owner column, the detail's
summary and its timeline show them, with a person's reply and who wrote it (§13)."""

from __future__ import annotations

from pathlib import Path

from app.core.incidents.lifecycle import NOTE_LIMIT
from app.core.incidents.views import show_incident
from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import save_source
from app.core.users import add_user, ensure_user
from app.ui.app import MailsirenApp
from app.ui.modals.assign_picker import AssignPickerModal
from app.ui.modals.note_form import NoteFormModal
from app.ui.screens.incident_detail import IncidentDetailScreen
from app.ui.widgets.incident_table import IncidentTable
from app.ui.widgets.timeline import TimelineTable
from tests.mails import alert_mail
from tests.ui.pilot import settle

SOURCE = "nagios@alerts.example.com"
CORPUS = Path(__file__).parents[1] / "fixtures" / "corpus"


def two_incidents(workspace) -> None:
    save_source(workspace.database, workspace.user, {"name": "nagios", "address": SOURCE})
    for subject in ("web01 disk", "db02 load"):
        ingest_mail(workspace.database, alert_mail(subject), [SOURCE], via="smtp")


def cell(table, column: str) -> str:
    return str(table.get_cell_at((table.cursor_row, table.get_column_index(column))))


async def test_a_note_goes_on_the_incident_under_the_cursor(workspace):
    two_incidents(workspace)
    app = MailsirenApp(workspace, initial_mode="incidents")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(IncidentTable)
        await pilot.press("j")  # the second row: #1, the older one
        await settle(app, pilot)
        target = table.selected_id
        await pilot.press("N")
        await settle(app, pilot)
        assert isinstance(app.screen, NoteFormModal)
        await pilot.press(*"disk full", "enter", *"rotated logs")
        await settle(app, pilot)
        assert "22 / 4,000" in str(app.screen.query_one("#note-count").render())
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert not isinstance(app.screen, NoteFormModal)
    note = show_incident(workspace.database, target).latest_note
    assert (note.detail, note.actor) == ("disk full\nrotated logs", "alice")
    other = 2 if target == 1 else 1
    assert show_incident(workspace.database, other).latest_note is None


async def test_a_note_over_the_limit_or_empty_is_refused_in_the_form(workspace):
    two_incidents(workspace)
    app = MailsirenApp(workspace, initial_mode="incidents")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("N")
        await settle(app, pilot)
        form = app.screen
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form and "empty" in str(form.query_one(".error").render())
        form.query_one("#note-text").text = "x" * (NOTE_LIMIT + 1)
        await settle(app, pilot)
        assert "At most 4,000 characters" in str(form.query_one(".error").render())
        assert form.query_one("#note-count").has_class("-over")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form
        await pilot.press("escape")
        await settle(app, pilot)
    for incident_id in (1, 2):
        assert show_incident(workspace.database, incident_id).latest_note is None


async def test_the_owner_is_picked_shown_in_its_column_and_taken_away(workspace):
    two_incidents(workspace)
    add_user(workspace.database, workspace.user, "bob", permissions=["triage"])
    app = MailsirenApp(workspace, initial_mode="incidents")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(IncidentTable)
        target = table.selected_id
        wide_title = table.title_width  # nobody owns anything: no room kept for Owner
        await pilot.press("A")
        await settle(app, pilot)
        assert isinstance(app.screen, AssignPickerModal)
        await pilot.press("b", "enter")  # narrowed to bob
        await settle(app, pilot)
        assert show_incident(workspace.database, target).incident.assignee == "bob"
        assert cell(table, "owner") == "bob"
        assert table.title_width == wide_title - 12  # the Owner column is on screen now
        await pilot.press("A")
        await settle(app, pilot)
        await pilot.press("down", "down", "enter")  # alice, bob (owner now), nobody
        await settle(app, pilot)
        assert show_incident(workspace.database, target).incident.assignee is None
        assert cell(table, "owner") == ""


async def test_a_user_without_triage_is_told_and_nothing_opens(workspace):
    two_incidents(workspace)
    add_user(workspace.database, workspace.user, "victor")
    workspace.user = ensure_user(workspace.database, "victor")
    app = MailsirenApp(workspace, initial_mode="incidents")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("N")
        await settle(app, pilot)
        assert not isinstance(app.screen, NoteFormModal)
        await pilot.press("A")
        await settle(app, pilot)
        assert not isinstance(app.screen, AssignPickerModal)
        said = [notice.message for notice in app._notifications]
        assert any("cannot write notes" in text for text in said)
        assert any("cannot assign incidents" in text for text in said)


async def test_the_detail_shows_owner_latest_note_and_a_reply_with_who_wrote_it(workspace):
    save_source(
        workspace.database, workspace.user,
        {"name": "nagios", "address": SOURCE, "creation": "per_subject"},
    )  # fmt: skip
    alert = alert_mail("web01 disk CRITICAL", message_id="<a1@mon.example.net>")
    ingest_mail(workspace.database, alert, [SOURCE], via="smtp")
    answer = alert_mail("RE: web01 disk CRITICAL", "Looking at it now.\n> quoted",
                        sender="Bob <bob@ops.example.com>",
                        headers={"In-Reply-To": "<a1@mon.example.net>"})  # fmt: skip
    ingest_mail(workspace.database, answer, [SOURCE], via="smtp")
    app = MailsirenApp(workspace, initial_mode="incidents")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, IncidentDetailScreen)
        await pilot.press("N", *"swapped the disk", "ctrl+s")
        await settle(app, pilot)
        await pilot.press("A", "enter")  # alice, the only user
        await settle(app, pilot)
        summary = str(app.screen.query_one("#summary").render())
        assert "owner alice" in summary and "1 reply" in summary
        assert "latest note, alice" in summary and "swapped the disk" in summary
        timeline = app.screen.query_one(TimelineTable)
        details = [str(row.detail) for row in timeline.rows_shown]
        assert "Bob <bob@ops.example.com>: Looking at it now." in details
        assert "swapped the disk" in details
