"""Silence a source (or every source): how long, why, and optionally which subjects (§10)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from app.core.incidents.silences import SilenceError, check_window, window_from_text
from app.core.intake.rules import RuleError, compile_re2
from app.ui import display


@dataclass(frozen=True)
class SilenceRequest:
    """What the form asks the core for."""

    source: str | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    match: str | None


class SilenceFormModal(ModalScreen[SilenceRequest | None]):
    DEFAULT_CSS = """
    SilenceFormModal { align: center middle; }
    SilenceFormModal > Vertical {
        width: 64; max-width: 100%; height: auto; padding: 1 2; border: thick $primary;
        background: $surface;
    }
    SilenceFormModal Input { margin-bottom: 1; }
    SilenceFormModal .label { color: $text-muted; }
    SilenceFormModal .error { color: $error; height: auto; }
    SilenceFormModal .hint { color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="silence.cancel"),
        Binding("ctrl+s", "save", "Silence", id="silence.save"),
    ]

    def __init__(self, source: str | None) -> None:
        super().__init__()
        self.source = source

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = f"Silence {self.source}" if self.source else "Silence every source"
            yield Static("For how long: 90m, 2h, 1d, or until 18:00", classes="label")
            yield Input("2h", id="silence-for", compact=True)
            yield Static("Why (the timeline and the list show it)", classes="label")
            yield Input(
                placeholder="(required) e.g. db01 upgrade", id="silence-reason", compact=True
            )
            yield Static("Only subjects matching (RE2, any case; empty: all)", classes="label")
            yield Input(
                placeholder="(empty: every mail) e.g. web0[12]", id="silence-match", compact=True
            )
            yield Static("", classes="error", markup=False)
            yield Static(
                "Mails are processed and shown; nobody is paged until it ends. "
                "enter: next field, then silence · shift+tab: back to how long · "
                "ctrl+s: silence · escape: cancel",
                classes="hint",
                markup=False,
            )

    def on_mount(self) -> None:
        self.query_one("#silence-reason", Input).focus()

    def on_input_changed(self, _event: Input.Changed) -> None:
        self.query_one(".error", Static).update("")  # said for what was typed before

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "silence-match":
            self.action_save()
        else:
            self.focus_next()

    def action_save(self) -> None:
        request, error = self.request()
        if error:
            self.query_one(".error", Static).update(error)
            return
        self.dismiss(request)

    def request(self) -> tuple[SilenceRequest | None, str]:
        """What the fields ask for, or why not (checked again by the core on save)."""
        now = display.now()
        try:
            starts_at, ends_at = window_from_text(now, self.value("#silence-for"))
            check_window(starts_at, ends_at, now)
        except SilenceError as error:
            return None, str(error)
        reason = self.value("#silence-reason")
        if not reason:
            return None, "Say why: the reason is what the next shift reads."
        match = self.value("#silence-match") or None
        if match:
            try:
                compile_re2(match, case_sensitive=False)
            except RuleError as error:
                return None, f"Only subjects matching: {error}"
        return SilenceRequest(self.source, starts_at, ends_at, reason, match), ""

    def value(self, selector: str) -> str:
        return self.query_one(selector, Input).value.strip()

    def action_cancel(self) -> None:
        self.dismiss(None)
