"""The live incident log driven by keys: arrivals without a key press, triage, filters, detail."""

from __future__ import annotations

import threading

import pytest
import tomli_w
from textual.widgets import Static

from app.core.configfile import import_config
from app.core.incidents.views import list_incidents, show_incident
from app.core.intake.pipeline import ingest_mail
from app.core.users import add_user
from app.core.workspace import open_workspace
from app.ui.app import MailsirenApp
from app.ui.modals.confirm import ConfirmModal
from app.ui.screens.incident_detail import IncidentDetailScreen
from app.ui.widgets.incident_table import IncidentTable
from app.ui.widgets.log_header import LogHeader
from tests.as_operator import LOGIN_VARIABLE
from tests.mails import alert_mail
from tests.ui.pilot import settle

ADDRESS = "nagios@alerts.example.com"


def with_sources(workspace, *, creation: str):
    """Nagios (alert, by `creation`) and Zabbix (warning) sources."""
    document = {
        "source": [
            {"name": "nagios", "address": ADDRESS, "creation": creation},
            {"name": "zabbix", "address": "zabbix@alerts.example.com", "severity": "warning"},
        ]
    }
    import_config(workspace.database, workspace.user, tomli_w.dumps(document))
    return workspace


@pytest.fixture
def nagios(workspace):
    return with_sources(workspace, creation="per_subject")


def receive(workspace, subject: str, *, to: str = ADDRESS, body: str = "CRITICAL") -> int:
    [outcome] = ingest_mail(
        workspace.database, alert_mail(subject, body), [to], via="ingest"
    ).outcomes
    return outcome.incident_id


def titles(app) -> list[str]:
    table = app.screen.query_one(IncidentTable)
    return [str(table.get_row_at(index)[3]) for index in range(table.row_count)]


async def wait_for_rows(app, pilot, count: int) -> None:
    """The poll runs twice a second; wait on its result (a row count), not on time."""
    table = app.screen.query_one(IncidentTable)
    for _ in range(200):
        await settle(app, pilot)
        if table.row_count == count:
            return
        await pilot.pause(0.05)
    pytest.fail(f"expected {count} rows, have {table.row_count}")


async def test_a_mail_stored_by_another_thread_appears_and_the_cursor_stays(nagios):
    first = receive(nagios, "disk full on web01")
    receive(nagios, "load high on db02")
    app = MailsirenApp(nagios)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_rows(app, pilot, 2)
        await pilot.press("j")  # onto "disk full on web01", the older one
        table = app.screen.query_one(IncidentTable)
        assert table.selected_id == first

        other = open_workspace()  # another connection, as serve would have
        storing = threading.Thread(target=receive, args=(other, "http down on web09"))
        storing.start()
        storing.join()
        other.close()
        await wait_for_rows(app, pilot, 3)  # no key pressed

        assert titles(app)[0].startswith("http down on web09")
        assert table.selected_id == first  # the cursor stayed on its incident
        assert str(table.get_row_at(0)[0]) == "●"  # the new one is marked
        header = str(app.screen.query_one(LogHeader).render())
        assert "● 1 new" in header and "▲ 3 pending" in header


async def test_accept_resolve_and_reopen_by_keys_record_the_actor(nagios):
    incident = receive(nagios, "disk full on web01")
    app = MailsirenApp(nagios)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_rows(app, pilot, 1)
        await pilot.press("a")
        await settle(app, pilot)
        assert show_incident(nagios.database, incident).incident.accepted_by == nagios.user.name

        await pilot.press("r")  # resolve asks first
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        await settle(app, pilot)
        assert show_incident(nagios.database, incident).incident.state == "accepted"
        await pilot.press("r", "y")
        await settle(app, pilot)
        assert show_incident(nagios.database, incident).incident.resolved_by == nagios.user.name
        await wait_for_rows(app, pilot, 0)  # the log shows open incidents by default

        await pilot.press("s", "s", "s", "s")  # open → pending → accepted → resolved → all
        await wait_for_rows(app, pilot, 1)
        await pilot.press("o")
        await settle(app, pilot)
        detail = show_incident(nagios.database, incident)
        assert detail.incident.state == "pending"
        assert [entry.kind for entry in detail.timeline][-3:] == [
            "accepted",
            "resolved",
            "reopened",
        ]


async def test_marked_incidents_are_resolved_together_after_one_question(nagios):
    ids = [receive(nagios, f"disk full on web0{n}") for n in range(4)]
    app = MailsirenApp(nagios)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_rows(app, pilot, 4)
        await pilot.press("space", "space")  # marks the two newest, moving down
        await settle(app, pilot)
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmModal)
        assert "2 incidents" in str(app.screen.query_one(Static).render())
        await pilot.press("y")
        await wait_for_rows(app, pilot, 2)
        states = {view.id: view.state for view in list_incidents(nagios.database, state="all")}
        assert [states[i] for i in ids] == ["pending", "pending", "resolved", "resolved"]


async def test_filters_narrow_the_log_and_escape_clears_them(nagios):
    receive(nagios, "disk full on web01")
    receive(nagios, "load high on db02")
    receive(nagios, "zabbix: ping lost", to="zabbix@alerts.example.com")
    app = MailsirenApp(nagios)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_rows(app, pilot, 3)
        await pilot.press("slash", *"DB02")
        await wait_for_rows(app, pilot, 1)
        assert titles(app) == ["load high on db02"]
        await pilot.press("escape")
        await wait_for_rows(app, pilot, 3)

        await pilot.press("v")  # severity: alert
        await wait_for_rows(app, pilot, 2)
        await pilot.press("v")  # warning: zabbix's
        await wait_for_rows(app, pilot, 1)
        await pilot.press("S", "S")  # source: nagios, then zabbix
        await wait_for_rows(app, pilot, 1)
        header = str(app.screen.query_one(LogHeader).render())
        assert "source zabbix, severity warning" in header
        await pilot.press("escape")
        await wait_for_rows(app, pilot, 3)


async def test_a_burst_of_filter_keys_makes_one_read_more_of_the_last_text(nagios, monkeypatch):
    from app.ui.screens import incidents

    receive(nagios, "disk full on web01")
    receive(nagios, "load high on db02")
    typed, held = [], threading.Event()
    real = incidents.read_window

    def read_window(database, log_filter, **kwargs):
        typed.append(log_filter.text)
        if log_filter.text == "d":
            held.wait(timeout=30)  # the first key's read is on its way while the rest come
        return real(database, log_filter, **kwargs)

    monkeypatch.setattr(incidents, "read_window", read_window)
    app = MailsirenApp(nagios)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_rows(app, pilot, 2)
        typed.clear()
        await pilot.press("slash", *"db02")
        held.set()
        await settle(app, pilot)
        assert [text for text in typed if text] == ["d", "db02"]  # not one read per key
        assert titles(app) == ["load high on db02"]
        assert "db02" in str(app.screen.query_one(LogHeader).render())


async def test_the_detail_screen_shows_timeline_mails_and_the_raw_source(nagios):
    receive(nagios, "disk full on web01", body="DISK CRITICAL - free space: / 3%")
    receive(nagios, "disk full on web01", body="still full")
    app = MailsirenApp(nagios)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_rows(app, pilot, 1)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, IncidentDetailScreen)
        view = app.screen.query_one("#mail-view", Static)
        assert "still full" in str(view.render())  # the newest mail is shown first
        await pilot.press("k")
        await settle(app, pilot)
        assert "free space: / 3%" in str(view.render())
        await pilot.press("R")
        assert "Content-Transfer-Encoding" in str(view.render())
        timeline = app.screen.query_one("#timeline")
        assert timeline.row_count == 2  # created, then a mail appended
        await pilot.press("escape")
        assert not isinstance(app.screen, IncidentDetailScreen)


async def test_without_triage_the_keys_say_why_and_nothing_changes(nagios, monkeypatch):
    incident = receive(nagios, "disk full on web01")
    add_user(nagios.database, nagios.user, "bob", permissions=["view_connections"])
    monkeypatch.setenv(LOGIN_VARIABLE, "bob")
    viewer = open_workspace()
    assert viewer.user.name == "bob" and not viewer.user.can("triage")
    app = MailsirenApp(viewer)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_rows(app, pilot, 1)
        await pilot.press("a")
        await settle(app, pilot)
        notices = [str(notification.message) for notification in app._notifications]
        assert any("do not have the triage permission" in text for text in notices)
    viewer.close()
    assert show_incident(nagios.database, incident).incident.state == "pending"


async def test_markup_right_to_left_emoji_and_long_subjects_keep_the_layout(nagios):
    subjects = [
        "[/x] [bold]not markup[/bold] \x1b[31mred",
        "\u202eevil right-to-left override",
        "שרת web01 נפל 🔥🔥",
        "x" * 1000,
        "",
    ]
    for subject in subjects:
        receive(nagios, subject or " ")
    app = MailsirenApp(nagios)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_rows(app, pilot, len(subjects))
        shown = titles(app)
        assert any("[/x] [bold]not markup" in title for title in shown)
        assert all("\x1b" not in title and "\u202e" not in title for title in shown)
        assert max(len(title) for title in shown) <= app.screen.query_one(IncidentTable).title_width
        await pilot.press("G", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, IncidentDetailScreen)


async def test_an_unknown_theme_is_named_and_the_default_used(workspace):
    from dataclasses import replace

    workspace.settings = replace(workspace.settings, theme="textual-ansi")
    app = MailsirenApp(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        notices = [str(notification.message) for notification in app._notifications]
        assert any(
            "theme 'textual-ansi' is unknown" in text and "ansi-dark" in text for text in notices
        )
        assert app.theme == "textual-dark"


async def test_back_on_the_log_keys_go_to_the_log_not_the_hidden_filter(nagios):
    """A terminal can leave the log's screen with nothing focused (seen in tmux): coming back
    must focus the log, or `q` lands in the hidden filter instead of quitting."""
    receive(nagios, "PROBLEM web01 disk")
    app = MailsirenApp(nagios)
    async with app.run_test() as pilot:
        await settle(app, pilot)
        log_screen = app.screen
        await pilot.press("3")
        await settle(app, pilot)
        log_screen.set_focus(None)
        await pilot.press("1")
        await settle(app, pilot)
        assert isinstance(app.focused, IncidentTable)
        await pilot.press("q")
        assert not app.is_running


async def test_the_ansi_theme_uses_the_terminals_own_colours(workspace):
    from dataclasses import replace

    workspace.settings = replace(workspace.settings, theme="ansi")
    app = MailsirenApp(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert app.theme == "ansi-dark" and app.native_ansi_color
        assert not app._notifications  # noqa: SLF001 - no complaint about the name


async def test_a_triage_key_on_a_locked_database_says_why_nothing_changed(nagios):
    """Another program holds the database's write lock past busy_timeout (10 s for users,
    half a second here): the key press is answered with the reason, not with silence."""
    import sqlite3

    from app import paths
    from app.core.store.db import open_database

    receive(nagios, "PROBLEM web01 disk")
    keyring = nagios.database.keyring
    nagios.database.dispose()  # the same file, opened with a short wait for the lock
    nagios.database = open_database(nagios.settings.database_url, keyring, busy_timeout=0.5)
    app = MailsirenApp(nagios)
    async with app.run_test() as pilot:
        await settle(app, pilot)
        holder = sqlite3.connect(paths.default_database_path())
        holder.execute("BEGIN EXCLUSIVE")
        try:
            await pilot.press("a")
            for _ in range(300):  # the worker gives up after busy_timeout; wait on the notice
                notices = [str(notice.message) for notice in app._notifications]  # noqa: SLF001
                if any("is locked" in text for text in notices):
                    break
                await pilot.pause(0.1)
        finally:
            holder.rollback()
            holder.close()
        assert any("is locked" in text and "Nothing was changed" in text for text in notices)
    assert [view.state for view in list_incidents(nagios.database)] == ["pending"]


async def test_narrowing_the_terminal_shows_state_and_severity_as_symbols(nagios):
    receive(nagios, "PROBLEM web01 disk")
    app = MailsirenApp(nagios)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(IncidentTable)
        assert str(table.get_row_at(0)[1]) == "▲ pending"
        await pilot.resize_terminal(80, 24)
        await settle(app, pilot)
        assert [str(cell) for cell in table.get_row_at(0)[1:3]] == ["▲", "‼"]
        assert str(table.columns["state"].label) == "" and table.title_width == 41
        await pilot.resize_terminal(120, 36)
        await settle(app, pilot)
        assert str(table.get_row_at(0)[1]) == "▲ pending"
        assert str(table.columns["state"].label) == "State"
