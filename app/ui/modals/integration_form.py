"""Add or edit an email integration: the seed's Email Address, Notification Type, Frequency."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Static

from app.core.integrations import LEVEL_HELP, IntegrationError, IntegrationSpec, parse_integration
from app.core.names import LEVELS
from app.ui.widgets.form_row import choice_select, form_row

FORM_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 80; height: auto; max-height: 90%; padding: 0 2;
    border: thick $primary; background: $surface;
}}
{name} .row {{ height: auto; margin-top: 1; }}
{name} .row Label {{ width: 14; }}
{name} .row Input, {name} .row Select {{ width: 1fr; }}
{name} .error {{ color: $error; height: auto; margin-top: 1; }}
{name} .error.-ok {{ color: $success; }}
{name} .dim {{ color: $text-muted; height: auto; }}
{name} .buttons {{ height: auto; margin: 1 0; align-horizontal: right; }}
{name} Button {{ margin-left: 2; }}
"""


class IntegrationFormModal(ModalScreen[IntegrationSpec | None]):
    DEFAULT_CSS = FORM_CSS.format(name="IntegrationFormModal")
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="integration-form.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="integration-form.cancel"),
    ]

    def __init__(self, spec: IntegrationSpec | None) -> None:
        super().__init__()
        self._spec = spec

    def compose(self) -> ComposeResult:
        spec = self._spec or IntegrationSpec("")
        with Vertical() as frame:
            frame.border_title = "Edit integration" if self._spec else "New email integration"
            yield form_row(
                "Email Address",
                Input(spec.address, placeholder="ops@example.com, a list or a shared mailbox",
                      id="address", compact=True),
            )  # fmt: skip
            yield form_row(
                "Notification",
                choice_select(
                    ((f"{level.title()}: {LEVEL_HELP[level]}", level) for level in LEVELS),
                    spec.level, id="level",
                ),
            )  # fmt: skip
            yield Checkbox(
                "and above (Warning also takes Alert; Info takes every severity)",
                spec.and_above, id="and-above", compact=True,
            )  # fmt: skip
            yield form_row(
                "Frequency", choice_select([("Instant", "instant")], spec.frequency, id="frequency")
            )
            yield Checkbox("Enabled", spec.enabled, id="enabled", compact=True)
            yield Static(
                "Prefer a distribution list or shared mailbox to a personal address: it "
                "survives people leaving. Mail goes out through your SMTP configuration.",
                classes="dim",
            )
            yield Static("", id="error", classes="error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#address", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_save() if event.button.id == "save" else self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        data = {
            "address": self.query_one("#address", Input).value,
            "level": self.query_one("#level").value,
            "and_above": self.query_one("#and-above", Checkbox).value,
            "frequency": self.query_one("#frequency").value,
            "enabled": self.query_one("#enabled", Checkbox).value,
        }
        if self._spec and self._spec.owner:
            data["owner"] = self._spec.owner
        try:
            spec = parse_integration(data, "integration")
        except IntegrationError as error:
            self.query_one("#error", Static).update(f"✗ {error}")
            return
        self.dismiss(spec)
