"""Ask for one line of text, checked by a function that returns an error or nothing."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Static

from app.ui.modals.footed import FootedModal


class TextPromptModal(FootedModal[str | None]):
    DEFAULT_CSS = """
    TextPromptModal { align: center middle; }
    TextPromptModal > Vertical {
        width: 60; height: auto; padding: 1 2; border: thick $primary; background: $surface;
    }
    TextPromptModal .error { color: $error; height: auto; }
    TextPromptModal .hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(
        self,
        title: str,
        placeholder: str,
        check: Callable[[str], str | None],
        *,
        value: str = "",
        hint: str = "enter to save, escape to cancel",
    ) -> None:
        super().__init__()
        self._title = title
        self._placeholder = placeholder
        self._check = check
        self._value = value
        self._hint = hint

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = self._title
            yield Input(self._value, placeholder=self._placeholder, compact=True)
            yield Static("", classes="error", markup=False)
            yield Static(self._hint, classes="hint", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        error = self._check(value)
        if error:
            self.query_one(".error", Static).update(error)
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)
