"""The sources list and the mail log by keyboard: enable/disable, delete, copy, permissions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.widgets import Static

from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import list_sources, save_source
from app.core.users import add_user
from app.core.workspace import open_workspace
from app.ui.app import MailsirenApp
from app.ui.modals.confirm import ConfirmModal
from app.ui.screens import sources as sources_screen
from app.ui.screens.mail_screen import MailScreen
from app.ui.screens.source_mails import SourceMailsScreen
from app.ui.widgets.keyed_table import KeyedTable
from app.ui.widgets.preview_table import SUBJECT_AT_LEAST
from app.ui.widgets.sources_table import SourcesTable
from tests.as_operator import LOGIN_VARIABLE
from tests.clock import Clock
from tests.ui.ages import next_redraw, redraws
from tests.ui.pilot import settle

CORPUS = Path(__file__).parents[1] / "fixtures" / "corpus"
NAGIOS = {
    "name": "nagios",
    "address": "nagios@alerts.example.com",
    "creation": "by_key",
    "key_rule": [{"field": "subject", "extractor": "regex", "pattern": r"Alert: (\S+)/(.+) is"}],
    "resolve_rule": [{"field": "subject", "op": "contains", "value": "RECOVERY"}],
}


@pytest.fixture
def nagios_mails(workspace):
    """The Nagios source (by key, resolved by RECOVERY) and the corpus's five Nagios mails."""
    save_source(workspace.database, workspace.user, NAGIOS)
    for path in sorted(CORPUS.glob("0[1-5]-nagios-*.eml")):
        ingest_mail(workspace.database, path.read_bytes(), [NAGIOS["address"]], via="smtp")
    return workspace


def notices(app) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


def cell(app, column: str) -> str:
    table = app.screen.query_one(SourcesTable)
    return str(table.get_cell_at((table.cursor_row, table.get_column_index(column))))


async def test_the_list_shows_traffic_and_disables_copies_and_deletes(nagios_mails):
    app = MailsirenApp(nagios_mails, initial_mode="sources")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        assert (cell(app, "open"), cell(app, "today"), cell(app, "enabled")) == ("1", "5", "✓ yes")
        await pilot.press("c")
        assert app.clipboard == "nagios@alerts.example.com"
        await pilot.press("t")
        await settle(app, pilot)
        assert cell(app, "enabled") == "✗ no"
        assert any("disabled: its address now refuses mail (550)" in text for text in notices(app))
        assert not ingest_mail(
            nagios_mails.database, b"Subject: x\r\n\r\nx", [NAGIOS["address"]], via="smtp"
        ).stored
        await pilot.press("x")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)
        question = str(app.screen.query_one(Static).render())
        assert "Its 2 incidents and the record of what its 5 mails did" in question
        await pilot.press("n")
        await settle(app, pilot)
        assert [spec.name for spec in list_sources(nagios_mails.database)] == ["nagios"]
        await pilot.press("x")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert list_sources(nagios_mails.database) == []
        assert app.screen.has_class("-empty")


async def test_the_last_mail_age_moves_with_the_clock_without_a_new_read(nagios_mails, monkeypatch):
    clock = Clock(datetime.now(UTC) + timedelta(minutes=5))
    monkeypatch.setattr("app.ui.display.now", clock)
    reads = []
    real_read = sources_screen.list_source_summaries
    monkeypatch.setattr(
        sources_screen,
        "list_source_summaries",
        lambda *a, **k: reads.append(1) or real_read(*a, **k),
    )
    with redraws(monkeypatch) as redrawn:
        app = MailsirenApp(nagios_mails, initial_mode="sources")
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(app, pilot)
            assert cell(app, "last") == "5m ago"
            read_so_far, cursor = len(reads), app.screen.query_one(SourcesTable).cursor_row
            clock.advance(minutes=10)
            await next_redraw(pilot, redrawn)
            assert cell(app, "last") == "15m ago"
            assert len(reads) == read_so_far  # drawn again from the rows it holds
            assert app.screen.query_one(SourcesTable).cursor_row == cursor


async def test_the_mail_log_filters_by_outcome_and_opens_a_mail(nagios_mails):
    app = MailsirenApp(nagios_mails, initial_mode="sources")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("m")
        await settle(app, pilot)
        assert isinstance(app.screen, SourceMailsScreen)
        table = app.screen.query_one(KeyedTable)
        assert table.row_count == 5
        await pilot.press("o")  # created
        await settle(app, pilot)
        outcomes = {str(table.get_row_at(index)[2]) for index in range(table.row_count)}
        assert (outcomes, table.row_count) == ({"created"}, 2)
        assert "2 mails with outcome created" in str(app.screen.query_one(Static).render())
        await pilot.press("o", "o")  # resolved
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, MailScreen)
        shown = str(app.screen.query_one("#mail-view", Static).render())
        assert "Subject: ** RECOVERY Service Alert: web01/Disk /var is OK **" in shown
        assert "Outcome: resolved: resolve rule held" in shown
        await pilot.press("R")
        await pilot.pause()
        raw = str(app.screen.query_one("#mail-view", Static).render())
        assert "Content-Transfer-Encoding: 7bit" in raw


async def test_without_edit_rights_the_keys_say_which_permission_is_missing(
    nagios_mails, monkeypatch
):
    add_user(nagios_mails.database, nagios_mails.user, "bob", permissions=["view_connections"])
    monkeypatch.setenv(LOGIN_VARIABLE, "bob")
    bob = open_workspace()
    app = MailsirenApp(bob, initial_mode="sources")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("n", "t", "x")
        await settle(app, pilot)
        for permission in ("edit_connections", "delete_connections"):
            assert any(
                f"do not have the {permission} permission" in text
                and f"mailsiren users grant bob {permission}" in text
                for text in notices(app)
            )
        await pilot.press("e")
        await settle(app, pilot)
        await pilot.press("ctrl+s")  # core refuses, whatever the screen allowed
        await settle(app, pilot)
        assert any("edit_connections" in text for text in notices(app)[-1:])
    bob.close()
    assert list_sources(nagios_mails.database)[0].enabled is True


def visible_subject_cells(table) -> int:
    """How many cells of the subject column are on screen, the table scrolled to its left."""
    columns = list(table.columns.values())
    index = table.get_column_index("subject")
    start = sum(column.get_render_width(table) for column in columns[:index])
    shown = table.scrollable_content_region.width - start
    return min(shown, columns[index].get_render_width(table)) - 2  # its padding


async def test_at_80_columns_the_mail_log_and_the_preview_show_enough_of_the_subject(nagios_mails):
    app = MailsirenApp(nagios_mails, initial_mode="sources")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("m")
        await settle(app, pilot)
        log = app.screen.query_one(KeyedTable)
        assert visible_subject_cells(log) >= 24
        subject = str(log.get_cell_at((0, log.get_column_index("subject"))))
        assert subject.startswith("** RECOVERY Service Alert") and len(subject) >= 24
        assert "times in " in str(app.screen.query_one("#mails-header", Static).render())
        await pilot.press("escape", "e")
        await settle(app, pilot)
        preview = app.screen.query_one("#preview")
        # The preview also shows each verdict's severity (‼ ! i) since §12: 20 cells, its
        # SUBJECT_AT_LEAST, still recognise the subject; the selected mail's pane has it whole.
        assert visible_subject_cells(preview) >= SUBJECT_AT_LEAST
        subject = str(preview.get_cell_at((0, preview.get_column_index("subject"))))
        assert subject.startswith("** PROBLEM Service") and len(subject) >= SUBJECT_AT_LEAST
