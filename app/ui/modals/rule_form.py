"""The frame both rule forms share: fields, a live check, the result on the sample mail."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Select, Static

from app.core.intake.mail import ParsedMail
from app.core.intake.rules import RuleError
from app.ui.modals.footed import FootedModal


class RuleFormModal(FootedModal[dict | None]):
    """Subclasses compose the fields, read them into a rule table and try it on the mail."""

    DEFAULT_CSS = """
    RuleFormModal { align: center middle; }
    RuleFormModal > Vertical {
        width: 84; max-width: 100%; height: auto; max-height: 90%; padding: 0 2;
        border: thick $primary; background: $surface;
    }
    RuleFormModal .row { height: auto; margin-top: 1; }
    RuleFormModal .row Label { width: 11; }
    RuleFormModal .row Input, RuleFormModal .row Select { width: 1fr; }
    RuleFormModal .-hidden { display: none; }
    RuleFormModal #rule-check { height: auto; margin-top: 1; }
    RuleFormModal #rule-trial { height: auto; margin-top: 1; color: $text-muted; }
    RuleFormModal .buttons { height: auto; margin: 1 0; align-horizontal: right; }
    RuleFormModal Button { margin-left: 2; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Keep rule", id="rule-form.save"),
        Binding("escape", "cancel", "Cancel", id="rule-form.cancel"),
    ]
    TITLE = ""

    def __init__(
        self, rule: dict | None, sample: ParsedMail | None, sample_label: str = ""
    ) -> None:
        super().__init__()
        self.rule = dict(rule or {})
        self.sample = sample
        self.sample_label = sample_label

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = ("Edit " if self.rule else "New ") + self.TITLE
            yield from self.compose_fields()
            yield Static("", id="rule-check")
            yield Static("", id="rule-trial")
            with Horizontal(classes="buttons"):
                yield Button("Keep (enter or ctrl+s)", id="save", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def compose_fields(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.refresh_fields()
        self.check()

    # Subclasses

    def read(self) -> dict:
        raise NotImplementedError

    def parse(self, data: dict) -> object:
        """The compiled rule, or RuleError."""
        raise NotImplementedError

    def trial(self, rule: object, sample: ParsedMail) -> Text:
        raise NotImplementedError

    def refresh_fields(self) -> None:
        """Show only the fields the current choices use."""

    # Live check

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def changed(self) -> None:
        self.refresh_fields()
        self.check()

    def check(self) -> object | None:
        check = self.query_one("#rule-check", Static)
        trial = self.query_one("#rule-trial", Static)
        try:
            rule = self.parse(self.read())
        except RuleError as error:
            check.update(Text(f"✗ {str(error).removeprefix('rule: ')}", style="bold red"))
            trial.update("")
            return None
        check.update(Text("✓ valid", style="green"))
        if self.sample is None:
            trial.update("No sample mail to try it on: load some in the preview (ctrl+o).")
        else:
            text = Text(f"On the selected mail ({self.sample_label}): ")
            text.append_text(self.trial(rule, self.sample))
            trial.update(text)
        return rule

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_save(self) -> None:
        if self.check() is not None:
            self.dismiss(self.read())

    def action_cancel(self) -> None:
        self.dismiss(None)
