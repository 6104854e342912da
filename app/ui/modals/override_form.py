"""Put someone on call in a schedule for a while: a user picked, `8h` or `until 18:00` (§18)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from app.core.incidents.silences import SilenceError, window_from_text
from app.ui import display
from app.ui.display import time_left, when, zone_name
from app.ui.modals.footed import FootedModal


@dataclass(frozen=True)
class OverrideRequest:
    schedule: str
    user: str
    starts_at: datetime
    ends_at: datetime


class OverrideFormModal(FootedModal[OverrideRequest | None]):
    DEFAULT_CSS = """
    OverrideFormModal { align: center middle; }
    OverrideFormModal > Vertical {
        width: 60; max-width: 100%; height: auto; max-height: 90%; padding: 1 2;
        border: thick $primary; background: $surface;
    }
    OverrideFormModal OptionList { height: auto; max-height: 10; margin-bottom: 1; }
    OverrideFormModal .label, OverrideFormModal .hint { color: $text-muted; }
    OverrideFormModal .error { color: $error; height: auto; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="override.cancel"),
        Binding("ctrl+s", "save", "Override", id="override.save"),
    ]

    def __init__(self, schedule: str, names: list[str], on_call: str, next_user: str) -> None:
        super().__init__()
        self.schedule, self.names, self.on_call = schedule, names, on_call
        self.next_user = next_user  # highlighted first: a swap is the usual override

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = f"Override {self.schedule}"
            yield Static("Who is on call instead", classes="label")
            yield OptionList(
                *(
                    Option(f"{name}{'  (on call now)' if name == self.on_call else ''}", id=name)
                    for name in self.names
                ),
                id="override-user",
            )
            yield Static("For how long: 8h, 90m, 1d, or until 18:00", classes="label")
            yield Input("8h", id="override-for", compact=True)
            yield Static("", id="override-ends", classes="hint", markup=False)
            yield Static("", classes="error", markup=False)
            yield Static(
                "enter: pick, then override · ctrl+s: override · escape: cancel", classes="hint"
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        wanted = self.next_user if self.next_user in self.names else None
        options.highlighted = self.names.index(wanted) if wanted else 0
        options.focus()
        self.show_end()

    def show_end(self) -> None:
        try:
            _, ends_at = window_from_text(display.now(), self.query_one(Input).value)
        except SilenceError as error:
            self.query_one(".error", Static).update(str(error))
            self.query_one("#override-ends", Static).update("")
            return
        self.query_one(".error", Static).update("")
        said = f"until {when(ends_at)[:16]} {zone_name()}, for {time_left(ends_at)}"
        self.query_one("#override-ends", Static).update(said)

    def on_input_changed(self, _event: Input.Changed) -> None:
        self.show_end()

    def on_option_list_option_selected(self, _event: OptionList.OptionSelected) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.action_save()

    def action_save(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return
        try:
            starts_at, ends_at = window_from_text(display.now(), self.query_one(Input).value)
        except SilenceError as error:
            self.query_one(".error", Static).update(str(error))
            self.query_one(Input).focus()
            return
        user = self.names[options.highlighted]
        self.dismiss(OverrideRequest(self.schedule, user, starts_at, ends_at))

    def action_cancel(self) -> None:
        self.dismiss(None)
