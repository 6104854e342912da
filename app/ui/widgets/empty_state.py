"""A centred message for an area with nothing to show yet, saying what will come and why."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Center, Middle
from textual.widgets import Static


class EmptyState(Middle):
    DEFAULT_CSS = """
    EmptyState { height: 1fr; }
    EmptyState Static { width: auto; max-width: 72; padding: 1 2; border: round $primary-muted; }
    """

    def __init__(self, title: str, message: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._title = title
        self._message = message

    def compose(self) -> ComposeResult:
        text = Text()
        text.append(self._title + "\n\n", style="bold")
        text.append(self._message)
        with Center():
            yield Static(text)
