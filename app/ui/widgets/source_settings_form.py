"""A source's own settings: name, address, severity, creation mode explained, policy, enabled."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Checkbox, Input, Label, Select, Static

from app.core.names import SEVERITIES
from app.core.sources import CREATION_HELP, CREATION_MODES, ON_NO_KEY, ON_NO_KEY_HELP

SETTINGS = ("name", "address", "severity", "creation", "on_no_key", "escalation_policy")


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
        with Horizontal(classes="row"):
            yield Label("Name")
            yield Input(placeholder="e.g. nagios", id="source-name", compact=True)
        yield Static("", id="name-error", classes="error -empty", markup=False)
        with Horizontal(classes="row"):
            yield Label("Address")
            yield Input(
                placeholder="its own, e.g. nagios@alerts.example.com",
                id="source-address",
                compact=True,
            )
        yield Static("", id="address-error", classes="error -empty", markup=False)
        with Horizontal(classes="row"):
            yield Label("Severity")
            yield Select(
                [(severity, severity) for severity in SEVERITIES],
                value="alert",
                allow_blank=False,
                id="source-severity",
                compact=True,
            )
        with Horizontal(classes="row"):
            yield Label("Creation")
            yield Select(
                [(mode, mode) for mode in CREATION_MODES],
                value="per_email",
                allow_blank=False,
                id="source-creation",
                compact=True,
            )
        yield Static(CREATION_HELP["per_email"], id="creation-help", classes="help", markup=False)
        with Horizontal(classes="row", id="on-no-key-row"):
            yield Label("No key")
            yield Select(
                [(f"{choice}: {ON_NO_KEY_HELP[choice]}", choice) for choice in ON_NO_KEY],
                value="drop",
                allow_blank=False,
                id="source-on-no-key",
                compact=True,
            )
        with Horizontal(classes="row"):
            yield Label("Escalate")
            yield Input(
                placeholder="escalation policy name (optional)",
                id="source-escalation-policy",
                compact=True,
            )
        with Horizontal(classes="row"):
            yield Label("")
            yield Checkbox(
                "Enabled: its address takes mail", True, id="source-enabled", compact=True
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
        return data

    def show_errors(self, name: str, address: str) -> None:
        for field, message in (("name", name), ("address", address)):
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
