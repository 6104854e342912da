"""Add or edit an email integration: the seed's Email Address, Notification Type, Frequency.
The form saves itself: a refusal or a "no" to its questions leaves it open, as typed."""

from __future__ import annotations

from dataclasses import dataclass

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Static

from app.core.names import LEVELS
from app.core.notifications.integrations import (
    LEVEL_HELP,
    IntegrationError,
    IntegrationSpec,
    IntegrationView,
    NeedsConfirmation,
    parse_integration,
    save_integration,
)
from app.errors import MailsirenError
from app.ui.modals.confirm import ConfirmModal
from app.ui.modals.footed import FootedModal
from app.ui.screens.worker_failures import WorkerFailures
from app.ui.widgets.form_row import choice_select, form_row

FORM_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 80; height: auto; max-height: 90%; padding: 0 2; overflow-y: auto;
    border: thick $primary; background: $surface;
}}
{name} .row {{ height: auto; margin-top: 1; }}
{name} .row Label {{ width: 14; }}
{name} .row Input, {name} .row Select {{ width: 1fr; }}
{name} .error {{ color: $error; height: auto; margin-top: 1; }}
{name} .error.-ok {{ color: $success; }}
{name} .field-error {{ color: $error; height: auto; padding-left: 14; display: none; }}
{name} .field-error.-shown {{ display: block; }}
{name} .dim {{ color: $text-muted; height: auto; }}
{name} .buttons {{ height: auto; margin: 1 0; align-horizontal: right; }}
{name} Button {{ margin-left: 2; }}
"""


@dataclass
class SaveRefused(Message):
    """Why the core did not save: shown beside the field it is about (or under the form)."""

    text: str


@dataclass
class SaveAsks(Message):
    """The address is a duplicate or external: the person confirms, or goes back to the form."""

    spec: IntegrationSpec
    concerns: tuple[str, ...]


@dataclass
class Saved(Message):
    view: IntegrationView


def field_of(error: str) -> str:
    """Which field a refusal is about: "address", "level", or "" (the whole form)."""
    for field in ("address", "level"):
        if f": {field}" in error:
            return field
    return ""


class IntegrationFormModal(WorkerFailures, FootedModal[IntegrationView | None]):
    DEFAULT_CSS = FORM_CSS.format(name="IntegrationFormModal")
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="integration-form.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="integration-form.cancel"),
    ]

    def __init__(self, spec: IntegrationSpec | None, *, editing: int | None = None) -> None:
        super().__init__()
        self._spec = spec
        self._editing = editing

    def compose(self) -> ComposeResult:
        spec = self._spec or IntegrationSpec("")
        with Vertical() as frame:
            frame.border_title = "Edit integration" if self._spec else "New email integration"
            yield form_row(
                "Email Address",
                Input(spec.address, placeholder="ops@example.com, a list or a shared mailbox",
                      id="address", compact=True),
            )  # fmt: skip
            yield Static("", id="address-error", classes="field-error", markup=False)
            yield form_row(
                "Notification",
                choice_select(
                    ((f"{level.title()}: {LEVEL_HELP[level]}", level) for level in LEVELS),
                    spec.level, id="level",
                ),
            )  # fmt: skip
            yield Static("", id="level-error", classes="field-error", markup=False)
            yield Checkbox(
                "and above (Warning also takes Alert; Info takes every severity)",
                spec.and_above, id="and-above", compact=True,
            )  # fmt: skip
            yield form_row(
                "Frequency",
                choice_select(
                    [("Instant: a mail per event", "instant"),
                     ("Hourly digest: one mail per hour of events", "hourly"),
                     ("Daily digest at the time below", "daily")],
                    spec.frequency, id="frequency",
                ),
            )  # fmt: skip
            yield form_row(
                "Digest at",
                Input(spec.digest_at or "", placeholder="08:00 (daily digests; local time)",
                      id="digest-at", compact=True, restrict=r"[0-9:]*", max_length=5),
            )  # fmt: skip
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
        digest_at = self.query_one("#digest-at", Input).value.strip()
        if digest_at and data["frequency"] == "daily":
            data["digest_at"] = digest_at
        if self._spec and self._spec.owner:
            data["owner"] = self._spec.owner
        try:
            spec = parse_integration(data, "integration")
        except IntegrationError as error:
            self.show_error(str(error))
            return
        self.show_error("")
        self.keep(spec, confirmed=False)

    @work(thread=True, exclusive=True, group="integration-form-save", exit_on_error=False)
    def keep(self, spec: IntegrationSpec, *, confirmed: bool) -> None:
        """Save as the user; core checks the permission and asks about the address."""
        workspace = self.app.workspace
        try:
            view = save_integration(
                workspace.database, workspace.user, spec, editing=self._editing,
                confirmed=confirmed,
            )  # fmt: skip
        except NeedsConfirmation as question:
            self.post_message(SaveAsks(spec, question.concerns))
            return
        except MailsirenError as error:
            self.post_message(SaveRefused(str(error)))
            return
        self.post_message(Saved(view))

    def on_save_asks(self, message: SaveAsks) -> None:
        question = "\n\n".join(message.concerns) + "\n\nSave anyway?"
        self.app.push_screen(
            ConfirmModal(question, yes_label="Save"),
            lambda yes: self.keep(message.spec, confirmed=True) if yes else self.back_to_form(),
        )

    def back_to_form(self) -> None:
        self.query_one("#error", Static).update("Not saved: change the address, or save again.")
        self.query_one("#address", Input).focus()

    def on_save_refused(self, message: SaveRefused) -> None:
        self.show_error(message.text)

    def on_saved(self, message: Saved) -> None:
        self.dismiss(message.view)

    def show_error(self, text: str) -> None:
        """The refusal beside its field (the form's own line when it is about no field)."""
        field = field_of(text) if text else ""
        for name in ("address", "level"):
            beside = self.query_one(f"#{name}-error", Static)
            beside.update(f"✗ {text}" if field == name else "")
            beside.set_class(field == name, "-shown")
        self.query_one("#error", Static).update(f"✗ {text}" if text and not field else "")
        if field:
            self.query_one(f"#{field}").focus()
