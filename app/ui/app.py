"""The mailsiren App: its modes (one per area), global keys, command palette and theme."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from app.core.workspace import Workspace
from app.ui.screens.admin import AdminScreen
from app.ui.screens.incidents import IncidentsScreen
from app.ui.screens.integrations import IntegrationsScreen
from app.ui.screens.smtp import SmtpScreen
from app.ui.screens.sources import SourcesScreen

AREA_COMMANDS = (
    ("incidents", "Incidents", "The live incident log"),
    ("sources", "Alert sources", "Addresses, filters and key rules per monitoring system"),
    ("integrations", "Integrations", "Notification addresses and escalation policies"),
    ("smtp", "SMTP settings", "Your own SMTP server, and Test Configuration"),
    ("admin", "Admin", "Users, groups and permissions"),
)


class MailsirenApp(App[None]):
    """One mode per area; the workspace (database, user) is opened before the first frame."""

    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "mailsiren"
    MODES = {
        "incidents": IncidentsScreen,
        "sources": SourcesScreen,
        "integrations": IntegrationsScreen,
        "smtp": SmtpScreen,
        "admin": AdminScreen,
    }
    DEFAULT_MODE = "incidents"
    BINDINGS = [
        Binding("1", "switch_mode('incidents')", "Incidents", id="mode.incidents"),
        Binding("2", "switch_mode('sources')", "Sources", id="mode.sources"),
        Binding("3", "switch_mode('integrations')", "Integrations", id="mode.integrations"),
        Binding("4", "switch_mode('smtp')", "SMTP", id="mode.smtp"),
        Binding("5", "switch_mode('admin')", "Admin", id="mode.admin"),
        Binding("question_mark", "toggle_help", "Help", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(self, workspace: Workspace, *, initial_mode: str | None = None) -> None:
        super().__init__()
        self.workspace = workspace
        self._initial_mode = initial_mode
        if workspace.settings.theme:
            self.theme = workspace.settings.theme
        user = workspace.user
        self.sub_title = f"{user.name}{' (admin)' if user.is_admin else ''}"

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for mode, title, help_text in AREA_COMMANDS:
            yield SystemCommand(title, help_text, partial(self.switch_mode, mode))

    def on_mount(self) -> None:
        if self._initial_mode:
            self.switch_mode(self._initial_mode)

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()


def run_app(workspace: Workspace) -> None:
    MailsirenApp(workspace).run()
