"""A source's own settings: name, address, severity, creation mode explained, policy, heartbeat,
enabled."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Checkbox, Input, Select, Static

from app.core.intake.sources import (
    CREATION_HELP,
    CREATION_MODES,
    ON_NO_KEY,
    ON_NO_KEY_HELP,
)
from app.core.names import SEVERITIES
from app.ui.widgets.form_row import choice_select, form_row

SETTINGS = (
    "name",
    "address",
    "severity",
    "creation",
    "on_no_key",
    "escalation_policy",
    "heartbeat_minutes",
    "ack_timeout_minutes",
    "auto_resolve_minutes",
)
# Settings typed in minutes (empty: off): key, field id, label, placeholder
MINUTE_FIELDS = (
    ("heartbeat_minutes", "heartbeat", "Heartbeat", "minutes quiet; empty: off"),
    (
        "ack_timeout_minutes",
        "ack-timeout",
        "Re-page",
        "minutes accepted; empty: off",
    ),
    (
        "auto_resolve_minutes",
        "auto-resolve",
        "Close",
        "minutes quiet; empty: off",
    ),
)


class SourceSettingsForm(Vertical):
    DEFAULT_CSS = """
    SourceSettingsForm { height: auto; }
    SourceSettingsForm .row { height: auto; }
    SourceSettingsForm .row Label { width: 10; color: $text-muted; }
    SourceSettingsForm .row Input, SourceSettingsForm .row Select { width: 1fr; }
    SourceSettingsForm .error { color: $error; height: auto; padding-left: 10; }
    SourceSettingsForm .error.-empty { display: none; }
    SourceSettingsForm .help { color: $text-muted; height: auto; padding-left: 10; }
    SourceSettingsForm #on-no-key-row.-hidden { display: none; }
    """

    @dataclass
    class Changed(Message):
        form: SourceSettingsForm

    def compose(self) -> ComposeResult:
        yield form_row("Name", Input(placeholder="e.g. nagios", id="source-name", compact=True))
        yield Static("", id="name-error", classes="error -empty", markup=False)
        yield form_row(
            "Address",
            Input(
                placeholder="its own, e.g. nagios@alerts.example.com",
                id="source-address",
                compact=True,
            ),
        )
        yield Static("", id="address-error", classes="error -empty", markup=False)
        yield form_row(
            "Severity",
            choice_select(((name, name) for name in SEVERITIES), "alert", id="source-severity"),
        )
        yield form_row(
            "Creation",
            choice_select(
                ((mode, mode) for mode in CREATION_MODES), "per_email", id="source-creation"
            ),
        )
        yield Static(CREATION_HELP["per_email"], id="creation-help", classes="help", markup=False)
        yield form_row(
            "No key",
            choice_select(
                ((f"{choice}: {ON_NO_KEY_HELP[choice]}", choice) for choice in ON_NO_KEY),
                "drop",
                id="source-on-no-key",
            ),
            id="on-no-key-row",
        )
        yield form_row(
            "Escalate",
            Input(
                placeholder="escalation policy name (optional)",
                id="source-escalation-policy",
                compact=True,
            ),
        )
        for _key, field, label, placeholder in MINUTE_FIELDS:
            yield form_row(
                label,
                Input(
                    placeholder=placeholder,
                    id=f"source-{field}",
                    type="integer",
                    valid_empty=True,  # empty is off, not a mistake: no red field
                    compact=True,
                ),
            )
            yield Static("", id=f"{field}-error", classes="error -empty", markup=False)
        yield form_row(
            "",
            Checkbox("Enabled: its address takes mail", True, id="source-enabled", compact=True),
        )

    def load(self, data: dict) -> None:
        """Fill the fields from a [[source]] table, without posting Changed."""
        with self.prevent(Input.Changed, Select.Changed, Checkbox.Changed):
            self.query_one("#source-name", Input).value = data.get("name", "")
            self.query_one("#source-address", Input).value = data.get("address", "")
            self.query_one("#source-severity", Select).value = data.get("severity", "alert")
            self.query_one("#source-creation", Select).value = data.get("creation", "per_email")
            self.query_one("#source-on-no-key", Select).value = data.get("on_no_key", "drop")
            self.query_one("#source-escalation-policy", Input).value = (
                data.get("escalation_policy") or ""
            )
            for key, field, _label, _placeholder in MINUTE_FIELDS:
                self.query_one(f"#source-{field}", Input).value = str(data.get(key) or "")
            self.query_one("#source-enabled", Checkbox).value = data.get("enabled", True)
        self._explain()

    def values(self) -> dict:
        """The settings as [[source]] keys; exactly what was typed (core validates)."""
        data = {
            "name": self.query_one("#source-name", Input).value,
            "address": self.query_one("#source-address", Input).value,
            "severity": self.query_one("#source-severity", Select).value,
            "creation": self.query_one("#source-creation", Select).value,
            "on_no_key": self.query_one("#source-on-no-key", Select).value,
            "enabled": self.query_one("#source-enabled", Checkbox).value,
        }
        policy = self.query_one("#source-escalation-policy", Input).value.strip()
        if policy:
            data["escalation_policy"] = policy
        for key, field, _label, _placeholder in MINUTE_FIELDS:
            typed = self.query_one(f"#source-{field}", Input).value.strip()
            if typed:  # empty: off; not a number: core says what it must be
                try:
                    data[key] = int(typed)
                except ValueError:
                    data[key] = typed
        return data

    def show_errors(self, name: str, address: str, minutes: dict[str, str] | None = None) -> None:
        """Each field's problem beside it; `minutes` by field id ("heartbeat", …)."""
        problems = {"name": name, "address": address, **(minutes or {})}
        for field, message in problems.items():
            error = self.query_one(f"#{field}-error", Static)
            error.update(message)
            error.set_class(not message, "-empty")

    def _explain(self) -> None:
        creation = self.query_one("#source-creation", Select).value
        self.query_one("#creation-help", Static).update(CREATION_HELP.get(str(creation), ""))
        self.query_one("#on-no-key-row").set_class(creation != "by_key", "-hidden")

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def changed(self, event: Message) -> None:
        event.stop()
        self._explain()
        self.post_message(self.Changed(self))
