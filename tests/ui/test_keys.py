"""Every action reachable from the keyboard at 80×24: the help screen, the footer, f1 in a
text field, the command palette, the user's keymap and the question before `q` stops serve."""

from __future__ import annotations

import html
import re
import subprocess
from dataclasses import replace

import tomli_w
from textual.command import CommandPalette
from textual.widgets import Input

from app.core.configfile import import_config
from app.core.incidents.views import show_incident
from app.core.intake.pipeline import ingest_mail
from app.server.supervisor import ServeSupervisor
from app.ui.app import MailsirenApp
from app.ui.modals.confirm import ConfirmModal
from app.ui.screens.help import HelpScreen, HelpTable
from app.ui.screens.incident_detail import IncidentDetailScreen
from app.ui.screens.source_editor import SourceEditorScreen
from app.ui.widgets.keys_footer import KeysFooter
from tests.mails import alert_mail
from tests.ui.pilot import settle

ADDRESS = "nagios@alerts.example.com"
LOG_IDS = ["log.detail", "log.accept", "log.mark", "log.filter", "log.state", "log.severity",
           "log.source", "log.seen", "log.clear", "log.down", "mode.admin", "help", "quit"]  # fmt: skip


def screen_text(app) -> str:
    """What the terminal shows now, as text (from the SVG screenshot)."""
    svg = app.export_screenshot()
    return html.unescape(" ".join(re.findall(r"<text[^>]*>(.*?)</text>", svg))).replace("\xa0", " ")


def notices(app) -> list[str]:
    return [str(notification.message) for notification in app._notifications]  # noqa: SLF001


def with_incident(workspace) -> int:
    document = {"source": [{"name": "nagios", "address": ADDRESS, "creation": "per_subject"}]}
    import_config(workspace.database, workspace.user, tomli_w.dumps(document))
    raw = alert_mail("disk full on web01", to=ADDRESS, message_id="<1@mon.example.net>")
    [outcome] = ingest_mail(workspace.database, raw, [ADDRESS], via="ingest").outcomes
    return outcome.incident_id


def state_of(workspace, incident: int) -> str:
    return show_incident(workspace.database, incident).incident.state


async def test_help_at_80x24_scrolls_to_every_binding_of_the_incident_log(workspace):
    with_incident(workspace)
    app = MailsirenApp(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        first_page = screen_text(app)
        assert "log.accept" in first_page and "quit" not in first_page  # more than fits
        seen = first_page
        for _ in range(5):
            await pilot.press("pagedown")
            await settle(app, pilot)
            seen += screen_text(app)
        for binding_id in LOG_IDS:
            assert binding_id in seen, binding_id
        assert "ctrl+p" in seen or "^p" in seen  # the palette, listed under Everywhere
        await pilot.press("G")
        await settle(app, pilot)
        assert "Quit" in screen_text(app)
        await pilot.press("escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, HelpScreen)


async def test_enter_in_help_runs_the_selected_binding(workspace):
    incident = with_incident(workspace)
    app = MailsirenApp(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await settle(app, pilot)
        table = app.screen.query_one(HelpTable)
        assert table.selected_key.endswith("log.accept")
        await pilot.press("enter")  # Accept
        await settle(app, pilot)
        assert state_of(workspace, incident) == "accepted"


async def test_help_lists_the_pushed_screens_keys_too(workspace):
    with_incident(workspace)
    app = MailsirenApp(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, IncidentDetailScreen)
        await pilot.press("f1")
        await settle(app, pilot)
        shown = screen_text(app)
        assert "detail.accept" in shown and "detail.back" in shown and "log.accept" not in shown


async def test_the_footer_shows_what_fits_and_says_more(workspace):
    app = MailsirenApp(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        footer = app.screen.query_one(KeysFooter)
        keys = list(footer.query("FooterKey"))
        assert max(key.region.right for key in keys) <= 80  # no key cut off
        assert (keys[-1].key_display, keys[-1].description) == ("?", "more")
        assert "log.clear" in [binding.id for binding in footer.left_out]
        assert re.search(r"\?\s+more\s*$", screen_text(app))  # the last words shown

        await pilot.resize_terminal(400, 24)
        await settle(app, pilot)
        keys = list(footer.query("FooterKey"))
        assert not footer.left_out and keys[-1].description == "Help"


async def test_the_footer_mounts_its_keys_again_only_when_they_change(workspace):
    # A screen's bindings are "updated" at every focus change; mounting every key again each
    # time cost the incident detail a tenth of its opening (seven recomposes per open).
    app = MailsirenApp(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        footer = app.screen.query_one(KeysFooter)
        before = list(footer.query("FooterKey"))
        app.screen.refresh_bindings()  # updated, but the same keys
        await settle(app, pilot)
        assert list(footer.query("FooterKey")) == before  # the very same widgets
        await pilot.press("slash")  # the filter field takes ?: help is f1 now
        await settle(app, pilot)
        after = list(footer.query("FooterKey"))
        assert after != before and after[-1].key_display == "f1"
        assert "/" not in [key.key_display for key in after]  # it types a slash there


async def test_question_mark_stays_text_in_the_source_editor_and_f1_opens_help(workspace):
    app = MailsirenApp(workspace, initial_mode="sources")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        assert isinstance(app.screen, SourceEditorScreen)
        name = app.screen.query_one("#source-name", Input)
        name.focus()
        await pilot.pause()
        await pilot.press("w", "h", "o", "question_mark")
        assert name.value == "who?" and isinstance(app.screen, SourceEditorScreen)
        footer = app.screen.query_one("Footer")
        if isinstance(footer, KeysFooter):  # the editor's own footer may be Textual's
            assert list(footer.query("FooterKey"))[-1].key_display == "f1"
        await pilot.press("f1")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        assert "editor.save" in screen_text(app)


async def palette_run(app, pilot, query: str) -> None:
    await pilot.press("ctrl+p")
    await settle(app, pilot)
    assert isinstance(app.screen, CommandPalette)
    await pilot.press(*query)
    for _ in range(100):  # the palette searches in a worker of its own
        await settle(app, pilot)
        if app.screen.query_one("CommandList").option_count:
            break
    commands = app.screen.query_one("CommandList")
    if commands.highlighted is None:
        await pilot.press("down")  # onto the first hit
    assert commands.highlighted == 0
    await pilot.press("enter")  # the best hit
    await settle(app, pilot)


async def test_the_palette_finds_and_runs_accept_on_the_incident_log(workspace):
    incident = with_incident(workspace)
    app = MailsirenApp(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await palette_run(app, pilot, "accept")
        assert state_of(workspace, incident) == "accepted"


async def test_the_palette_finds_a_filter_by_what_it_does(workspace):
    with_incident(workspace)
    app = MailsirenApp(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await palette_run(app, pilot, "filter by severity")
        assert app.screen.log_filter.severity == "alert"


async def test_the_palette_finds_test_configuration_on_the_smtp_screen(workspace):
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await settle(app, pilot)
        await pilot.press(*"test")
        for _ in range(100):
            await settle(app, pilot)
            if app.screen.query_one("CommandList").option_count:
                break
        shown = screen_text(app)
        assert "Test Configuration" in shown and "smtp.test" in shown


async def test_a_keymap_rebinds_accept(workspace):
    incident = with_incident(workspace)
    workspace.settings = replace(workspace.settings, keymap={"log.accept": "A"})
    app = MailsirenApp(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await settle(app, pilot)
        assert state_of(workspace, incident) == "pending"  # a is no longer accept
        await pilot.press("A")
        await settle(app, pilot)
        assert state_of(workspace, incident) == "accepted"
        assert not [text for text in notices(app) if "keymap" in text.lower()]


async def test_a_bad_keymap_id_or_key_is_named_at_start_up(workspace):
    keymap = {"log.acept": "A", "log.resolve": "ctrl+", "log.seen": "N"}
    workspace.settings = replace(workspace.settings, keymap=keymap)
    app = MailsirenApp(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        [warning] = [text for text in notices(app) if "[keymap]" in text]
        assert "'log.acept' is no binding id; did you mean log.accept" in warning
        assert "log.resolve = 'ctrl+'" in warning and "log.seen" not in warning
        assert app.user_keymap == {"log.seen": "N"}


def started_child(tmp_path) -> ServeSupervisor:
    """A supervisor whose child runs (a stand-in process, so no port is taken)."""
    supervisor = ServeSupervisor("sqlite:///unused", tmp_path / "serve.log")
    supervisor.child = subprocess.Popen(["sleep", "60"])
    return supervisor


async def test_q_asks_before_stopping_the_serve_this_window_started(workspace, tmp_path):
    supervisor = started_child(tmp_path)
    try:
        app = MailsirenApp(workspace, serve=supervisor)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(app, pilot)
            await pilot.press("q")
            await settle(app, pilot)
            assert isinstance(app.screen, ConfirmModal)
            question = screen_text(app)
            assert "stop receiving alert mail" in question and "mailsiren serve" in question
            await pilot.press("n")
            await settle(app, pilot)
            assert app.is_running and not isinstance(app.screen, ConfirmModal)
            await pilot.press("q", "y")
            await settle(app, pilot)
        assert app.return_code == 0
    finally:
        supervisor.child.kill()
        supervisor.child.wait()


async def test_q_quits_at_once_when_serve_runs_elsewhere(workspace, tmp_path):
    supervisor = ServeSupervisor("sqlite:///unused", tmp_path / "serve.log", start=False)
    app = MailsirenApp(workspace, serve=supervisor)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("q")
        assert not any(isinstance(screen, ConfirmModal) for screen in app.screen_stack)
    assert app.return_code == 0


async def test_f1_opens_help_in_a_dialog_too(workspace):
    incident = with_incident(workspace)
    app = MailsirenApp(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("r")  # resolve asks first
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("f1")
        await settle(app, pilot)
        shown = screen_text(app)
        assert isinstance(app.screen, HelpScreen)
        assert "confirm.yes" in shown and "mode.admin" not in shown  # 1–5 do not reach past it
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        await settle(app, pilot)
        assert state_of(workspace, incident) == "pending"
