"""The mailsiren App: its modes (one per area), global keys, command palette and theme."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.screen import Screen

from app.core.workspace import Workspace
from app.server.supervisor import ServeSupervisor
from app.ui import display
from app.ui.binding_ids import defined_bindings, key_problem, keymap_problems
from app.ui.commands import ScreenCommands
from app.ui.modals.confirm import ConfirmModal
from app.ui.screen_bindings import ScreenBinding, screen_groups, screen_title
from app.ui.screens.admin import AdminScreen
from app.ui.screens.help import HelpScreen
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
    COMMANDS = App.COMMANDS | {ScreenCommands}
    BINDINGS = [
        *(
            Binding(area.key, f"switch_mode('{area.mode}')", area.label, id=f"mode.{area.mode}")
            for area in AREAS
        ),
        # `?` stays text in a focused text field; f1 (a priority key, never text) opens help
        # there too, and in dialogs
        Binding("question_mark", "help", "Help", id="help"),
        Binding("f1", "help", "Help", id="help.f1", priority=True),
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
        self._keymap_problems: list[str] = []
        self._asking_to_quit = False
        self.user_keymap: dict[str, str] = {}  # the user's [keymap] entries that apply
        self._apply_keymap(workspace.settings.keymap)
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

    def _apply_keymap(self, keymap: dict[str, str]) -> None:
        """Bind what `[keymap]` in config.toml names; what names no binding or key is kept
        aside, to be told at start-up. Without a keymap the bindings are not walked."""
        if not keymap:
            return
        known = [defined.id for defined in defined_bindings()]
        self._keymap_problems = keymap_problems(keymap, known)
        good = {
            binding_id: keys
            for binding_id, keys in keymap.items()
            if binding_id in known and not key_problem(keys)
        }
        self.user_keymap = self._normalize_keymap(good)
        self.set_keymap(good)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title == "Keys":  # Textual's help panel: ours lists every key
                command = SystemCommand(
                    "Keys", "Every key of this screen, with its binding id", self.action_help
                )
            yield command
        for area in AREAS:
            yield SystemCommand(
                area.palette_title, area.palette_help, partial(self.switch_mode, area.mode)
            )

    def on_mount(self) -> None:
        if self._theme_problem:
            self.notify(self._theme_problem, severity="warning", markup=False, timeout=15)
        if self._keymap_problems:
            self.notify(
                "config.toml [keymap]: " + "; ".join(self._keymap_problems)
                + ". Those entries are ignored; ? lists every binding id.",
                title="Keymap", severity="warning", markup=False, timeout=20,
            )  # fmt: skip
        if self._initial_mode:
            self.switch_mode(self._initial_mode)

    def action_help(self) -> None:
        """Every key of the current screen; `enter` there runs the one selected."""
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        if isinstance(self.screen, CommandPalette):
            return
        screen = self.screen
        title = screen_title(screen)

        async def run(chosen: ScreenBinding | None) -> None:
            if chosen is not None:
                await chosen.run()

        self.push_screen(HelpScreen(title, screen_groups(screen, self.user_keymap)), run)

    async def action_quit(self) -> None:
        """Quit; when this window started serve, first ask: quitting stops mail reception."""
        question = self.serve.quit_question() if self.serve is not None else ""
        if not question or self._asking_to_quit:  # ctrl+q while asked: quit
            self.exit()
            return
        self._asking_to_quit = True

        def answered(stop: bool | None) -> None:
            self._asking_to_quit = False
            if stop:
                self.exit()

        self.push_screen(ConfirmModal(question, yes_label="Quit and stop serve"), answered)

    def serve_status(self) -> str:
        """One line on the listener: used, started here, or missing."""
        return self.serve.status() if self.serve is not None else ""


def run_app(workspace: Workspace, serve: ServeSupervisor | None = None) -> None:
    MailsirenApp(workspace, serve=serve).run()
