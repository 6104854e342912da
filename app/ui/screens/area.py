"""The frame every area screen shares: header, body, footer."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Header

from app.ui.screens.worker_failures import WorkerFailures
from app.ui.widgets.empty_state import EmptyState
from app.ui.widgets.keys_footer import KeysFooter


class AreaScreen(WorkerFailures, Screen):
    """A screen of one area of mailsiren; subclasses give the body."""

    AREA_TITLE = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield from self.compose_body()
        yield KeysFooter()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.title = f"mailsiren · {self.AREA_TITLE}"


class EmptyAreaScreen(AreaScreen):
    """An area whose screens are still to come: it says what it will hold."""

    EMPTY_TITLE = ""
    EMPTY_MESSAGE = ""

    def compose_body(self) -> ComposeResult:
        yield EmptyState(self.EMPTY_TITLE, self.EMPTY_MESSAGE)


class OpeningScreen(EmptyAreaScreen):
    """The first frame, drawn while a worker opens the database (app/ui/app.py)."""

    AREA_TITLE = "Incidents"
    EMPTY_TITLE = "Opening the database…"
    EMPTY_MESSAGE = "The incident log comes as soon as it is open."
