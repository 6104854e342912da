"""Silencing from the keyboard (SPEC §10): `z` on a source, a reason, enter — then the list
(`Z`, or `z` from the log) shows it and `e` ends it; the log marks what a silence holds."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from app.core.incidents.silences import add_silence, list_silences
from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import save_source
from app.ui.app import MailsirenApp
from app.ui.modals.confirm import ConfirmModal
from app.ui.modals.silence_form import SilenceFormModal
from app.ui.screens.silences import SilencesScreen
from app.ui.widgets.incident_table import IncidentTable
from app.ui.widgets.keyed_table import KeyedTable
from app.ui.widgets.log_header import LogHeader
from app.ui.widgets.sources_table import SourcesTable
from tests.clock import T0, Clock
from tests.ui.ages import next_redraw, redraws
from tests.ui.pilot import settle, type_into

CORPUS = Path(__file__).parents[1] / "fixtures" / "corpus"
NAGIOS = {"name": "nagios", "address": "nagios@alerts.example.com"}


def cell(table, column: str, row: int | None = None) -> str:
    index = table.cursor_row if row is None else row
    return str(table.get_cell_at((index, table.get_column_index(column))))


async def test_a_source_is_silenced_from_the_keyboard_listed_and_ended(workspace):
    save_source(workspace.database, workspace.user, NAGIOS)
    app = MailsirenApp(workspace, initial_mode="sources")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("z")
        await settle(app, pilot)
        assert isinstance(app.screen, SilenceFormModal)
        await pilot.press(*"db upgrade", "enter", "enter")  # the reason, no match: 2h
        await settle(app, pilot)
        [silence] = list_silences(workspace.database)
        assert (silence.source, silence.reason) == ("nagios", "db upgrade")
        assert round((silence.ends_at - silence.starts_at).total_seconds()) == 7200  # 2h
        assert cell(app.screen.query_one(SourcesTable), "watch") == f"⊘ silenced #{silence.id}"
        await pilot.press("Z")
        await settle(app, pilot)
        assert isinstance(app.screen, SilencesScreen)
        table = app.screen.query_one(KeyedTable)
        assert (cell(table, "id"), cell(table, "state")) == (f"#{silence.id}", "⊘ active")
        await pilot.press("e")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(app, pilot)
        assert list_silences(workspace.database) == []
        assert table.row_count == 0


async def test_the_form_refuses_what_it_cannot_read_and_says_why(workspace):
    save_source(workspace.database, workspace.user, NAGIOS)
    app = MailsirenApp(workspace, initial_mode="sources")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("z")
        await settle(app, pilot)
        form = app.screen
        form.query_one("#silence-for").value = ""
        await type_into(pilot, "#silence-for", "soon")
        await type_into(pilot, "#silence-reason", "patching")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form
        assert "90m, 2h" in str(form.query_one(".error").render())
        assert list_silences(workspace.database) == []


async def test_a_bad_pattern_is_named_as_it_is_typed_and_the_field_marked(workspace):
    save_source(workspace.database, workspace.user, NAGIOS)
    app = MailsirenApp(workspace, initial_mode="sources")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("z")
        await settle(app, pilot)
        form = app.screen
        await type_into(pilot, "#silence-match", "web(")
        await settle(app, pilot)
        assert "Only subjects matching" in str(form.query_one(".error").render())
        assert form.query_one("#silence-match").has_class("-invalid")
        await pilot.press("backspace")
        await settle(app, pilot)
        assert str(form.query_one(".error").render()) == ""
        assert not form.query_one("#silence-match").has_class("-invalid")
        await pilot.press("ctrl+s")  # no reason yet: that field is marked and focused
        await settle(app, pilot)
        assert app.screen is form
        assert form.query_one("#silence-reason").has_class("-invalid")
        assert app.focused is form.query_one("#silence-reason")
        await pilot.press("f1")
        await settle(app, pilot)
        assert "This screen: Silence form" in [group.title for group in app.screen._groups]


async def test_ended_silences_are_shown_on_request_latest_first_holding_nothing(
    workspace, monkeypatch
):
    save_source(workspace.database, workspace.user, NAGIOS)
    clock = Clock(T0)
    for hours, reason in ((1, "first"), (2, "second"), (9, "still on")):
        add_silence(
            workspace.database, workspace.user, source="nagios", starts_at=T0,
            ends_at=T0 + timedelta(hours=hours), reason=reason, clock=clock,
        )  # fmt: skip
    clock.advance(hours=3)
    monkeypatch.setattr("app.ui.display.now", clock)
    app = MailsirenApp(workspace, initial_mode="sources")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("Z")
        await settle(app, pilot)
        table = app.screen.query_one(KeyedTable)
        assert table.row_count == 1  # T0 + 9 h: still on now
        await pilot.press("a")
        await settle(app, pilot)
        reasons = [cell(table, "reason", row=row) for row in range(table.row_count)]
        assert reasons == ["still on", "second", "first"]
        assert [cell(table, "held", row=row) for row in (1, 2)] == ["—", "—"]
        assert "2 ended" in str(app.screen.query_one("#silences-header").render())
        await pilot.press("a")
        await settle(app, pilot)
        assert table.row_count == 1


async def test_the_log_marks_held_and_heartbeat_incidents_and_counts_silences(workspace):
    save_source(workspace.database, workspace.user, NAGIOS)
    app = MailsirenApp(workspace, initial_mode="incidents")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("z", "n")
        await settle(app, pilot)
        await pilot.press(*"DC move", "enter", "enter")
        await settle(app, pilot)
        await pilot.press("escape")
        mail = (CORPUS / "01-nagios-problem-disk.eml").read_bytes()
        ingest_mail(workspace.database, mail, [NAGIOS["address"]], via="smtp")
        with workspace.database.write() as session:  # as serve opens a heartbeat's
            session.execute(text("UPDATE incident SET key = 'heartbeat'"))
        app.screen.load()
        await settle(app, pilot)
        table = app.screen.query_one(IncidentTable)
        assert cell(table, "title", row=0).startswith("⊘ ♥ ** PROBLEM")
        assert "⊘ 1 silence (z)" in str(app.screen.query_one(LogHeader).render())


async def test_the_watch_column_counts_the_heartbeat_down_without_a_read(workspace, monkeypatch):
    clock = Clock(T0)
    monkeypatch.setattr("app.ui.display.now", clock)
    save_source(workspace.database, workspace.user, NAGIOS, clock=clock)
    with workspace.database.write() as session:
        session.execute(text("UPDATE alert_source SET heartbeat_minutes = 30"))
    with redraws(monkeypatch) as redrawn:
        app = MailsirenApp(workspace, initial_mode="sources")
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(app, pilot)
            table = app.screen.query_one(SourcesTable)
            assert cell(table, "watch") == "♥ due in 30m"
            clock.advance(minutes=26)
            await next_redraw(pilot, redrawn)
            assert cell(table, "watch") == "♥ due in 4m"
