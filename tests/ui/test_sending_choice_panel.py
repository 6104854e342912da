"""The SMTP screen's read-only panel: which configuration sends, and the shared one's rules."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from textual.widgets import Input

from app.core.sending.personal import load_settings_for_sending
from app.ui.app import MailsirenApp
from app.ui.modals.confirm import ConfirmModal
from app.ui.widgets.sending_choice_panel import SendingChoicePanel
from tests.ui.pilot import settle

SHARED = """[Shared-Mail-Config]
Server = smtp.example.com
Port = 587
Username = userman
Password = `sneakypassword`
UseTLS = true
Force-From = forced@example.com
Allowed-Group = ops
Allowed-To = `[a-f0-9]+@example\\.com`
"""


@pytest.fixture(autouse=True)
def shared_file(tmp_path, monkeypatch):
    path = tmp_path / "mailsiren.conf"
    path.write_text(SHARED)
    monkeypatch.setenv("MAILSIREN_SHARED_CONFIG", str(path))
    return path


def panel_text(app) -> str:
    """The panel's text as a wide terminal would print it."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(app.screen.query_one(SendingChoicePanel).shown)
    return console.export_text()


async def test_the_panel_follows_group_membership_and_personal_settings(workspace):
    from app.core.users import add_group, change_members

    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        text = panel_text(app)
        assert "nothing: sending is refused" in text and "limited to the groups ops" in text
        assert "forced@example.com" in text and "`[a-f0-9]+@example\\.com`" in text
        assert "sneakypassword" not in text

        add_group(workspace.database, workspace.user, "ops")
        change_members(workspace.database, workspace.user, "ops", add=["alice"])
        app.screen.load_choice()
        await settle(app, pilot)
        text = panel_text(app)
        assert (
            "Sends with: ● the shared configuration" in text
            and "ops ✔ yours" in text
            and "STARTTLS" in text
        )

        app.screen.query_one("#server", Input).focus()
        await pilot.press(*"localhost")
        app.screen.query_one("#port", Input).focus()
        await pilot.press(*"2525", "ctrl+s")
        await settle(app, pilot)
        assert "Sends with: ● your personal settings" in panel_text(app)
        assert "never falls back" in panel_text(app)

        await pilot.press("escape")
        await pilot.click("#clear")
        assert isinstance(app.screen, ConfirmModal)
        assert "shared configuration will send your mail" in str(
            app.screen.query_one("Static").render()
        )
        await pilot.press("y")
        await settle(app, pilot)
        assert load_settings_for_sending(workspace.database, workspace.user) is None
        assert "Sends with: ● the shared configuration" in panel_text(app)


async def test_errors_in_the_shared_file_are_shown_with_file_and_line(workspace, shared_file):
    shared_file.write_text(SHARED + "Allowed-To = `(`\n")
    app = MailsirenApp(workspace, initial_mode="smtp")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        text = panel_text(app)
        assert "1 error an administrator must fix" in text
        assert f"{shared_file}:10: Allowed-To" in text
