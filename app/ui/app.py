"""The mailsiren App: its modes (one per area), global keys, command palette and theme."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from app.core.workspace import Workspace
from app.server.supervisor import ServeSupervisor
from app.ui import display
from app.ui.screens.admin import AdminScreen
from app.ui.screens.incidents import IncidentsScreen
from app.ui.screens.integrations import IntegrationsScreen
from app.ui.screens.smtp import SmtpScreen
from app.ui.screens.sources import SourcesScreen


@dataclass(frozen=True)
class Area:
    """One area of mailsiren: its mode, key, screen, footer label and palette entry."""

    mode: str
    key: str
    screen: type[Screen]
    label: str
    palette_title: str
    palette_help: str


AREAS = (
    Area("incidents", "1", IncidentsScreen, "Incidents", "Incidents", "The live incident log"),
    Area("sources", "2", SourcesScreen, "Sources", "Alert sources",
         "Addresses, filters and key rules per monitoring system"),
    Area("integrations", "3", IntegrationsScreen, "Integrations", "Integrations",
         "Notification addresses and escalation policies"),
    Area("smtp", "4", SmtpScreen, "SMTP", "SMTP settings",
         "Your own SMTP server, and Test Configuration"),
    Area("admin", "5", AdminScreen, "Admin", "Admin", "Users, groups and permissions"),
)  # fmt: skip


# Short names for the themes an operator is told about: `ansi` draws with the terminal's own
# 16 colours (a console, screen or tmux without true colour, a palette chosen for the night).
THEME_ALIASES = {"ansi": "ansi-dark"}


class MailsirenApp(App[None]):
    """One mode per area; the workspace (database, user) is opened before the first frame."""

    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "mailsiren"
    MODES = {area.mode: area.screen for area in AREAS}
    DEFAULT_MODE = "incidents"
    BINDINGS = [
        *(
            Binding(area.key, f"switch_mode('{area.mode}')", area.label, id=f"mode.{area.mode}")
            for area in AREAS
        ),
        Binding("question_mark", "toggle_help", "Help", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(
        self,
        workspace: Workspace,
        *,
        initial_mode: str | None = None,
        serve: ServeSupervisor | None = None,
    ) -> None:
        super().__init__()
        self.workspace = workspace
        self.serve = serve
        self._initial_mode = initial_mode
        self._theme_problem = ""
        display.show_times_in_utc(workspace.settings.time == "utc")
        wanted = THEME_ALIASES.get(workspace.settings.theme, workspace.settings.theme)
        if wanted in self.available_themes:
            self.theme = wanted
        elif wanted:
            self._theme_problem = (
                f"config.toml: theme {wanted!r} is unknown, so the default is used; "
                f"choose one of {', '.join(sorted(self.available_themes))}"
            )
        user = workspace.user
        self.sub_title = f"{user.name}{' (admin)' if user.is_admin else ''}"

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for area in AREAS:
            yield SystemCommand(
                area.palette_title, area.palette_help, partial(self.switch_mode, area.mode)
            )

    def on_mount(self) -> None:
        if self._theme_problem:
            self.notify(self._theme_problem, severity="warning", markup=False, timeout=15)
        if self._initial_mode:
            self.switch_mode(self._initial_mode)

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def serve_status(self) -> str:
        """One line on the listener: used, started here, or missing."""
        return self.serve.status() if self.serve is not None else ""


def run_app(workspace: Workspace, serve: ServeSupervisor | None = None) -> None:
    MailsirenApp(workspace, serve=serve).run()
