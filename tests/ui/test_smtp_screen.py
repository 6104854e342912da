"""The SMTP screen, driven by keys as a person would: fill, save, test, read the transcript."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Button, Checkbox, Input, Select, Static

from app.core.sending.personal import SmtpForm, load_settings_for_sending, save_preferences
from app.ui.app import MailsirenApp
from app.ui.widgets.transcript_view import TranscriptView
from tests.conftest import GOOD_PASSWORD, GOOD_USER
from tests.e2e.process import mailsiren
from tests.ui.pilot import settle, type_into

FIELD_TYPES = (Input, Select, Checkbox, Button, TranscriptView)


async def fill_and_save(app, pilot, port: int, password: str) -> None:
    await type_into(pilot, "#server", "localhost")
    await type_into(pilot, "#port", str(port))
    await type_into(pilot, "#username", GOOD_USER)
    await type_into(pilot, "#password", password)
    await type_into(pilot, "#from-address", "alice@example.com")
    await pilot.press("ctrl+s")
    await settle(app, pilot)


async def test_fill_save_and_test_shows_every_stage(workspace, smtp_server, trust_test_ca):
    server = smtp_server()
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await fill_and_save(app, pilot, server.port, GOOD_PASSWORD)
        saved = load_settings_for_sending(workspace.database, workspace.user)
        assert saved.server == "localhost" and saved.password == GOOD_PASSWORD
        password_field = app.screen.query_one("#password", Input)
        assert password_field.value == "", "the password never shows again after saving"
        assert "saved" in str(password_field.placeholder)

        await type_into(pilot, "#send-to", "bob@example.com")
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        transcript = app.screen.query_one(TranscriptView)
        names = [stage.stage for stage in transcript.stages]
        assert names[:5] == ["resolve", "connect", "banner", "EHLO", "STARTTLS"]
        assert names[-3:] == ["RCPT TO", "DATA", "QUIT"]
        assert all(stage.ok for stage in transcript.stages)
        assert transcript.summary.startswith("Works")
        assert len(transcript.query(".stage")) == len(names)
        assert server.handler.received[0].rcpt_tos == ["bob@example.com"]


async def test_failed_test_names_the_stage_and_hint(workspace, smtp_server, trust_test_ca):
    server = smtp_server()
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await fill_and_save(app, pilot, server.port, "not the password")
        app.screen.query_one("#probe").toggle()
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        transcript = app.screen.query_one(TranscriptView)
        failure = transcript.stages[-1]
        assert failure.stage == "AUTH" and not failure.ok and failure.reply.startswith("535")
        assert transcript.summary.startswith("Failed at AUTH")
        assert server.handler.received == []


async def test_field_errors_appear_beside_the_fields_and_nothing_is_saved(workspace):
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        assert app.screen.query_one("#port", Input).value == "587", "prefilled from TLS mode"
        await type_into(pilot, "#server", "not a host")
        app.screen.query_one("#port", Input).clear()
        await type_into(pilot, "#port", "99999")
        await type_into(pilot, "#from-address", "nobody")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        server_error = app.screen.query_one("#error-server", Static)
        assert "not a host name" in str(server_error.render())
        assert not server_error.has_class("-empty")
        assert not app.screen.query_one("#error-from-address", Static).has_class("-empty")
        assert not app.screen.query_one("#error-port", Static).has_class("-empty")
        assert load_settings_for_sending(workspace.database, workspace.user) is None


async def test_warnings_follow_the_tls_choices(workspace):
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        warnings = app.screen.query_one("#warnings", Static)
        assert warnings.has_class("-empty")
        await type_into(pilot, "#username", "me")
        app.screen.query_one("#use-tls").toggle()
        await pilot.pause()
        assert "unencrypted" in str(warnings.render())
        assert app.screen.query_one("#tls-mode").disabled
        app.screen.query_one("#use-tls").toggle()
        app.screen.query_one("#skip-verify").toggle()
        await pilot.pause()
        assert "Certificate validation is off" in str(warnings.render())


async def test_test_without_settings_says_how_to_fix_it(workspace):
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        assert "no email configuration" in app.screen.query_one(TranscriptView).summary


async def test_mode_keys_and_help(workspace):
    app = MailsirenApp(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        assert app.current_mode == "incidents"
        for key, mode in [("2", "sources"), ("3", "integrations"), ("5", "admin"), ("4", "smtp")]:
            await pilot.press(key)
            assert app.current_mode == mode
        await pilot.press("escape", "question_mark")
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("question_mark")
        assert type(app.screen).__name__ == "SmtpScreen"
        await pilot.press("1")
        assert app.current_mode == "incidents"
        assert "No incidents yet" in str(app.screen.query_one("EmptyState Static").render())


async def test_testing_with_unsaved_edits_warns_that_the_saved_settings_are_tested(workspace):
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        assert not any("not saved yet" in n.message for n in app._notifications)
        await type_into(pilot, "#server", "x")
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        assert any("not saved yet" in n.message for n in app._notifications)


async def test_command_palette_offers_every_area(workspace):
    app = MailsirenApp(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in ("Incidents", "Alert sources", "Integrations", "SMTP settings", "Admin"):
            assert title in titles
        await pilot.press("ctrl+p")
        await pilot.press(*"SMTP settings")
        await pilot.press("enter")
        await pilot.pause()
        assert app.current_mode == "smtp"


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
async def test_the_first_tab_reaches_server_and_typed_text_stays_in_the_field(workspace, size):
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("tab")
        assert app.focused is not None and app.focused.id == "server"
        await pilot.press(*"mail1.example2.com")  # 1 and 2 are the app's screen keys
        assert app.current_mode == "smtp"
        assert app.screen.query_one("#server", Input).value == "mail1.example2.com"
        stops = []
        for _ in range(20):  # one whole round of Tab: only fields, buttons and the transcript
            await pilot.press("tab")
            if app.focused in stops:
                break
            stops.append(app.focused)
        assert all(isinstance(widget, FIELD_TYPES) for widget in stops), stops
        assert stops[-1].id == "server"


async def test_the_greyed_tls_mode_reads_none_while_use_tls_is_off(workspace):
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        mode = app.screen.query_one("#tls-mode", Select)
        mode.value = "tls"
        await pilot.pause()
        app.screen.query_one("#use-tls", Checkbox).toggle()
        await pilot.pause()
        assert mode.disabled and mode.value == "none"
        assert "None: plaintext" in str(mode.query_one("SelectCurrent #label", Static).render())
        assert app.screen.form.read().tls_mode == "none"
        app.screen.query_one("#use-tls", Checkbox).toggle()
        await pilot.pause()
        assert not mode.disabled and mode.value == "tls", "the mode chosen before comes back"


async def test_the_greyed_tls_mode_reads_none_for_saved_plaintext_settings(workspace):
    form = SmtpForm(server="smtp.example.com", port="25", tls_mode="none")
    save_preferences(workspace.database, workspace.user, form)
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        mode = app.screen.query_one("#tls-mode", Select)
        assert mode.disabled and mode.value == "none"
        assert not app.screen.form.has_unsaved_changes()


async def test_a_field_error_clears_as_soon_as_the_field_is_valid(workspace):
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await type_into(pilot, "#server", "not a host")
        app.screen.query_one("#port", Input).clear()
        await type_into(pilot, "#port", "99999")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        port_error = app.screen.query_one("#error-port", Static)
        assert not port_error.has_class("-empty")
        await pilot.press("backspace", "backspace", "backspace")
        assert app.screen.query_one("#port", Input).value == "99"
        assert port_error.has_class("-empty"), "port 99 is valid: its error is gone"
        assert not app.screen.query_one("#error-server", Static).has_class("-empty")


async def test_settings_set_and_cleared_from_the_cli_show_in_the_open_screen(workspace):
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        done = await asyncio.to_thread(
            mailsiren, "smtp", "set", "--server", "mx.example.net", "--port", "2525"
        )
        assert done.returncode == 0, done.stderr
        app.screen.check_for_changes()  # what the screen's timer does every second
        await settle(app, pilot)
        assert app.screen.query_one("#server", Input).value == "mx.example.net"
        assert app.screen.query_one("#port", Input).value == "2525"
        assert any("changed outside this screen" in n.message for n in app._notifications)
        assert not app.screen.form.has_unsaved_changes()

        done = await asyncio.to_thread(mailsiren, "smtp", "clear")
        assert done.returncode == 0, done.stderr
        app.screen.check_for_changes()
        await settle(app, pilot)
        saved_state = app.screen.query_one("#saved-state", Static)
        assert "Not saved yet" in str(saved_state.render())


async def test_a_cli_change_never_overwrites_unsaved_edits(workspace):
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await type_into(pilot, "#server", "mine.example.com")
        form = SmtpForm(server="theirs.example.com", port="587")  # what `smtp set` saves
        await asyncio.to_thread(save_preferences, workspace.database, workspace.user, form)
        app.screen.check_for_changes()
        await settle(app, pilot)
        assert app.screen.query_one("#server", Input).value == "mine.example.com"
        warnings = [n for n in app._notifications if n.title == "Changed elsewhere"]
        assert len(warnings) == 1 and "unsaved edits are kept" in warnings[0].message
        app.screen.check_for_changes()  # said once, not every second
        await settle(app, pilot)
        assert len([n for n in app._notifications if n.title == "Changed elsewhere"]) == 1
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        assert app.screen.query_one("#server", Input).value == "theirs.example.com"


async def test_at_80x24_a_test_shows_its_transcript_without_tabbing(
    workspace, smtp_server, trust_test_ca
):
    server = smtp_server()
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await fill_and_save(app, pilot, server.port, GOOD_PASSWORD)
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        transcript = app.screen.query_one(TranscriptView)
        assert transcript.summary.startswith("Works")
        assert app.focused is transcript, "the transcript is focused: arrows scroll it"
        assert transcript.region.height >= 15, "it takes the screen under the test options"
        assert app.screen.region.contains_region(transcript.region)
        summary = transcript.query_one(".summary")
        assert transcript.region.contains_region(summary.region), "the end is in view"
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is app.screen.query_one("#from-address"), "back where we were"
        assert app.screen.query_one("#smtp-left").region.height > 0
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.focused is transcript and transcript.region.height >= 15


async def test_a_refused_test_at_80x24_shows_why_on_screen(workspace):
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        transcript = app.screen.query_one(TranscriptView)
        assert "no email configuration" in transcript.summary
        assert app.focused is transcript
        assert app.screen.region.contains_region(transcript.query_one(".summary").region)


async def test_checkboxes_on_and_off_differ_without_colour(workspace, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        checkbox = app.screen.query_one("#skip-verify", Checkbox)

        def button_without_colour() -> list[tuple]:
            """The ▐X▌ cells as NO_COLOR shows them: text and text styles, no colours."""
            cells = checkbox.render_line(0).crop(0, 3)
            return [(s.text, s.style.bold, s.style.dim, s.style.reverse) for s in cells]

        off = button_without_colour()
        checkbox.toggle()
        await pilot.pause()
        on = button_without_colour()
        assert on != off
