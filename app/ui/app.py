"""The mailsiren App: its modes (one per area), global keys, command palette and theme."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.screen import Screen

from app import paths
from app.server.supervisor import ServeSupervisor
from app.ui import display
from app.ui.binding_ids import defined_bindings, key_problem, keymap_problems
from app.ui.commands import ScreenCommands
from app.ui.modals.confirm import ConfirmModal
from app.ui.screen_bindings import ScreenBinding, screen_groups, screen_title
from app.ui.screens.area import OpeningScreen
from app.ui.screens.help import HelpScreen

if TYPE_CHECKING:  # the core (SQLAlchemy, the models) is imported after the first frame
    from app.core.workspace import Workspace


@dataclass(frozen=True)
class Area:
    """One area of mailsiren: its mode, key, screen, footer label and palette entry."""

    mode: str
    key: str
    screen: str  # "module:Class", imported when the area is first shown
    label: str
    palette_title: str
    palette_help: str


AREAS = (
    Area("incidents", "1", "incidents:IncidentsScreen", "Incidents", "Incidents",
         "The live incident log"),
    Area("sources", "2", "sources:SourcesScreen", "Sources", "Alert sources",
         "Addresses, filters and key rules per monitoring system"),
    Area("integrations", "3", "integrations:IntegrationsScreen", "Integrations", "Integrations",
         "Notification addresses and escalation policies"),
    Area("smtp", "4", "smtp:SmtpScreen", "SMTP", "SMTP settings",
         "Your own SMTP server, and Test Configuration"),
    Area("admin", "5", "admin:AdminScreen", "Admin", "Admin", "Users, groups and permissions"),
)  # fmt: skip


def area_screen_class(screen: str) -> type[Screen]:
    """The screen class of an area ("module:Class" in app/ui/screens), imported on first use."""
    module, name = screen.split(":")
    return getattr(importlib.import_module(f"app.ui.screens.{module}"), name)


def area_screen(screen: str) -> Screen:
    return area_screen_class(screen)()


# Short names for the themes an operator is told about: `ansi` draws with the terminal's own
# 16 colours (a console, screen or tmux without true colour, a palette chosen for the night).
THEME_ALIASES = {"ansi": "ansi-dark"}


class MailsirenApp(App[None]):
    """One mode per area. Given a workspace (database, user), the app shows its log at once;
    given only settings, it draws an opening screen first and opens the workspace in a
    thread worker after that first frame (what `mailsiren` does: the core's imports and the
    database's opening cost more than Textual's start)."""

    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "mailsiren"
    MODES = {area.mode: partial(area_screen, area.screen) for area in AREAS}
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
        workspace: Workspace | None = None,
        *,
        settings: paths.Settings | None = None,
        initial_mode: str | None = None,
        serve: ServeSupervisor | None = None,
    ) -> None:
        if workspace is None:  # opened after the first frame, under the opening screen
            self.DEFAULT_MODE = "_default"  # read by App.__init__: the opening screen's mode
        super().__init__()
        self.workspace: Workspace | None = workspace
        self.settings = workspace.settings if workspace is not None else settings
        if self.settings is None:
            raise ValueError("MailsirenApp needs a workspace or the settings to open one")
        # What opening the workspace raised (a MailsirenError for a person, or another
        # error): the app exits and its launcher reports it as a command would.
        self.opening_failure: Exception | None = None
        self.serve = serve
        self._initial_mode = initial_mode
        self._theme_problem = ""
        self._keymap_problems: list[str] = []
        self._asking_to_quit = False
        self.user_keymap: dict[str, str] = {}  # the user's [keymap] entries that apply
        self._apply_keymap(self.settings.keymap)
        display.show_times_in_utc(self.settings.time == "utc")
        wanted = THEME_ALIASES.get(self.settings.theme, self.settings.theme)
        if wanted in self.available_themes:
            self.theme = wanted
        elif wanted:
            self._theme_problem = (
                f"config.toml: theme {wanted!r} is unknown, so the default is used; "
                f"choose one of {', '.join(sorted(self.available_themes))}"
            )
        if workspace is not None:
            self._show_user(workspace)

    def _show_user(self, workspace: Workspace) -> None:
        user = workspace.user
        self.sub_title = f"{user.name}{' (admin)' if user.is_admin else ''}"

    def get_default_screen(self) -> Screen:
        return OpeningScreen()

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
        if self.workspace is None:  # the areas come when the workspace is open
            return
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
        if self.workspace is None:
            self.call_after_refresh(self.open_workspace_worker)
        elif self._initial_mode:
            self.switch_mode(self._initial_mode)

    @work(thread=True, exit_on_error=False, description="Opening the database")
    def open_workspace_worker(self) -> None:
        """Open the workspace, start serve if it should, and import the first area's
        screen, off the event loop."""
        try:
            from app.core.workspace import open_workspace

            workspace = open_workspace(self.settings)
            if self.serve is not None:  # after the key file and the schema exist, as before
                self.serve.ensure()  # receive alert mail while the log is open
            mode = self._initial_mode or "incidents"
            area_screen_class(next(area.screen for area in AREAS if area.mode == mode))
        except Exception as error:  # noqa: BLE001 - reported by the launcher, as before
            self.call_from_thread(self._opening_failed, error)
            return
        try:
            self.call_from_thread(self._workspace_opened, workspace, mode)
        except RuntimeError:  # the person quit while the database opened
            workspace.close()

    def _workspace_opened(self, workspace: Workspace, mode: str) -> None:
        self.workspace = workspace
        self._show_user(workspace)
        self.switch_mode(mode)

    def _opening_failed(self, error: Exception) -> None:
        self.opening_failure = error
        self.exit(return_code=1)

    async def action_switch_mode(self, mode: str) -> None:
        if self.workspace is not None:  # an area's key while the database opens does nothing
            await super().action_switch_mode(mode)

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


def run_app(settings: paths.Settings, serve: ServeSupervisor | None = None) -> None:
    """Run the UI; the workspace opens after the first frame. Raises what opening raised."""
    app = MailsirenApp(settings=settings, serve=serve)
    try:
        app.run()
    finally:
        if app.workspace is not None:
            app.workspace.close()
    if app.opening_failure is not None:
        raise app.opening_failure
