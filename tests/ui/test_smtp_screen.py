"""The SMTP screen, driven by keys as a person would: fill, save, test, read the transcript."""

from __future__ import annotations

from textual.widgets import Input, Static

from app.core.smtpprefs import load_settings_for_sending
from app.ui.app import MailsirenApp
from app.ui.widgets.transcript_view import TranscriptView
from tests.conftest import GOOD_PASSWORD, GOOD_USER
from tests.ui.pilot import settle, type_into


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
        assert app.screen.query("HelpPanel")
        await pilot.press("question_mark")
        assert not app.screen.query("HelpPanel")
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
