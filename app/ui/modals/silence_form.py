"""Silence a source (or every source): how long, why, and optionally which subjects (§10)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Static

from app.core.incidents.silences import SilenceError, check_window, window_from_text
from app.core.intake.rules import RuleError, compile_re2
from app.ui import display
from app.ui.display import time_left, when, zone_name
from app.ui.modals.footed import FootedModal


@dataclass(frozen=True)
class SilenceRequest:
    """What the form asks the core for."""

    source: str | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    match: str | None


FIELDS = ("silence-for", "silence-reason", "silence-match")


class SilenceFormModal(FootedModal[SilenceRequest | None]):
    DEFAULT_CSS = """
    SilenceFormModal { align: center middle; }
    SilenceFormModal > Vertical {
        width: 64; max-width: 100%; height: auto; padding: 1 2; border: thick $primary;
        background: $surface;
    }
    SilenceFormModal Input { margin-bottom: 1; }
    SilenceFormModal #silence-for { margin-bottom: 0; }
    SilenceFormModal #silence-ends { margin-bottom: 1; }
    SilenceFormModal Input.-invalid { background-tint: $error 30%; text-style: underline; }
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
            yield Static("", id="silence-ends", classes="hint", markup=False)
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
        self.show_end()

    def show_end(self) -> None:
        """When the silence typed would end, in the operator's time, so "until 18:00" is
        seen to be today's or tomorrow's before it is saved."""
        try:
            starts_at, ends_at = self.window()
            check_window(starts_at, ends_at, display.now())
        except SilenceError:
            said = ""
        else:
            starts = "" if starts_at <= display.now() else f"starts {when(starts_at)[5:16]}, "
            said = f"{starts}ends {when(ends_at)[:16]} {zone_name()}, in {time_left(ends_at)}"
        self.query_one("#silence-ends", Static).update(said)

    def on_input_changed(self, event: Input.Changed) -> None:
        """The field typed in is checked as it is typed (a bad pattern says so at once); a
        field marked wrong before is cleared once it reads."""
        field = event.input.id
        if field == "silence-for":
            self.show_end()
        problem = self.problems().get(field, "") if field != "silence-reason" else ""
        event.input.set_class(bool(problem), "-invalid")
        self.query_one(".error", Static).update(problem)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "silence-match":
            self.action_save()
        else:
            self.focus_next()

    def action_save(self) -> None:
        problems = self.problems()
        for field in FIELDS:
            self.query_one(f"#{field}", Input).set_class(field in problems, "-invalid")
        if problems:
            field, problem = next(iter(problems.items()))
            self.query_one(".error", Static).update(problem)
            self.query_one(f"#{field}", Input).focus()
            return
        self.dismiss(self.request())

    def problems(self) -> dict[str, str]:
        """What is wrong, field by field in the form's order (the core checks again on save)."""
        problems = {}
        try:
            check_window(*self.window(), display.now())
        except SilenceError as error:
            problems["silence-for"] = str(error)
        if not self.value("#silence-reason"):
            problems["silence-reason"] = "Say why: the reason is what the next shift reads."
        if match := self.value("#silence-match"):
            try:
                compile_re2(match, case_sensitive=False)
            except RuleError as error:
                problems["silence-match"] = f"Only subjects matching: {error}"
        return problems

    def window(self) -> tuple[datetime, datetime]:
        return window_from_text(display.now(), self.value("#silence-for"))

    def request(self) -> SilenceRequest:
        """What the fields ask for, once `problems` found nothing."""
        starts_at, ends_at = self.window()
        match = self.value("#silence-match") or None
        return SilenceRequest(self.source, starts_at, ends_at, self.value("#silence-reason"), match)

    def value(self, selector: str) -> str:
        return self.query_one(selector, Input).value.strip()

    def action_cancel(self) -> None:
        self.dismiss(None)
