"""The personal SMTP settings form: the seed's fields, TLS mode and From, errors beside fields."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static

from app.core.smtpprefs import (
    DEFAULT_PORTS,
    SmtpForm,
    SmtpPreferenceView,
    settings_warnings,
)

FIELDS = ("server", "port", "username", "password", "tls_mode", "from_address")


def error_id(field: str) -> str:
    """The id of the line under a field that shows its error."""
    return f"error-{field.replace('_', '-')}"


class SmtpSettingsForm(VerticalScroll):
    """Reads and fills the form; shows field errors and live security warnings."""

    DEFAULT_CSS = """
    SmtpSettingsForm { border: round $primary-muted; padding: 0 1; height: auto; max-height: 1fr; }
    SmtpSettingsForm .row { height: auto; margin-top: 1; }
    SmtpSettingsForm .row > Label { width: 11; color: $text-muted; }
    SmtpSettingsForm .row > Input, SmtpSettingsForm .row > Select { width: 1fr; }
    SmtpSettingsForm .field-error { color: $error; height: auto; padding-left: 11; }
    SmtpSettingsForm .field-error.-empty { display: none; }
    SmtpSettingsForm #warnings { color: $warning; height: auto; margin-top: 1; }
    SmtpSettingsForm #warnings.-empty { display: none; }
    SmtpSettingsForm Checkbox { margin-top: 1; }
    SmtpSettingsForm #saved-state { color: $text-muted; margin-top: 1; height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Email server (your own)"
        self._loaded: SmtpForm | None = None

    def compose(self) -> ComposeResult:
        yield from self._field(
            "server", "Server", Input(placeholder="smtp.example.com", id="server", compact=True)
        )
        yield from self._field(
            "port",
            "Port",
            Input(placeholder="587", id="port", type="integer", max_length=5, compact=True),
        )
        yield from self._field(
            "username",
            "Username",
            Input(placeholder="(none: do not log in)", id="username", compact=True),
        )
        yield from self._field(
            "password", "Password", Input(id="password", password=True, compact=True)
        )
        yield Checkbox("Use TLS", value=True, id="use-tls", compact=True)
        yield from self._field(
            "tls_mode",
            "TLS mode",
            Select(
                [("STARTTLS (port 587 or 25)", "starttls"), ("Implicit TLS (port 465)", "tls")],
                value="starttls",
                allow_blank=False,
                id="tls-mode",
                compact=True,
            ),
        )
        yield Checkbox(
            "Disable TLS certificate validation", value=False, id="skip-verify", compact=True
        )
        yield Static("", id="warnings", classes="-empty")
        yield from self._field(
            "from_address",
            "From",
            Input(placeholder="default: your email address", id="from-address", compact=True),
        )
        yield Static("Not saved yet.", id="saved-state")

    @staticmethod
    def _field(name: str, label: str, field: Widget) -> ComposeResult:
        """A labelled field with the line that shows its error under it."""
        with Horizontal(classes="row"):
            yield Label(label)
            yield field
        yield Static("", id=error_id(name), classes="field-error -empty")

    def read(self) -> SmtpForm:
        use_tls = self.query_one("#use-tls", Checkbox).value
        mode_select = self.query_one("#tls-mode", Select)
        return SmtpForm(
            server=self.query_one("#server", Input).value,
            port=self.query_one("#port", Input).value,
            username=self.query_one("#username", Input).value,
            password=self.query_one("#password", Input).value,
            tls_mode=str(mode_select.value) if use_tls else "none",
            skip_certificate_verification=self.query_one("#skip-verify", Checkbox).value,
            from_address=self.query_one("#from-address", Input).value,
        )

    def load(self, view: SmtpPreferenceView | None) -> None:
        """Fill the form from saved settings; the password field stays empty."""
        with self.prevent(Input.Changed, Select.Changed, Checkbox.Changed):
            self.query_one("#password", Input).value = ""
            if view is not None:
                self.query_one("#server", Input).value = view.server
                self.query_one("#port", Input).value = str(view.port)
                self.query_one("#username", Input).value = view.username or ""
                self.query_one("#use-tls", Checkbox).value = view.tls_mode != "none"
                if view.tls_mode != "none":
                    self.query_one("#tls-mode", Select).value = view.tls_mode
                self.query_one("#skip-verify", Checkbox).value = view.skip_certificate_verification
                self.query_one("#from-address", Input).value = view.from_address or ""
        has_saved_password = bool(view and view.has_password)
        self.query_one("#password", Input).placeholder = (
            "•••••• saved — type to replace" if has_saved_password else ""
        )
        state = self.query_one("#saved-state", Static)
        state.update(f"Saved {view.updated_at:%Y-%m-%d %H:%M} UTC." if view else "Not saved yet.")
        self.show_errors({})
        self.refresh_warnings()
        self._loaded = self.read()

    def has_unsaved_changes(self) -> bool:
        return self._loaded is not None and self.read() != self._loaded

    def show_errors(self, errors: dict[str, str]) -> None:
        for field in FIELDS:
            label = self.query_one(f"#{error_id(field)}", Static)
            message = errors.get(field, "")
            label.update(Text(message))
            label.set_class(not message, "-empty")

    def refresh_warnings(self) -> None:
        form = self.read()
        self.query_one("#tls-mode", Select).disabled = form.tls_mode == "none"
        port = int(form.port) if form.port.isdigit() else 0
        has_credentials = bool(form.username.strip())
        warnings = settings_warnings(
            form.tls_mode, form.skip_certificate_verification, has_credentials, port
        )
        panel = self.query_one("#warnings", Static)
        panel.update(Text("\n".join(f"⚠ {warning}" for warning in warnings)))
        panel.set_class(not warnings, "-empty")

    def on_checkbox_changed(self, _event: Checkbox.Changed) -> None:
        self.refresh_warnings()

    def on_select_changed(self, event: Select.Changed) -> None:
        port_input = self.query_one("#port", Input)
        if not port_input.value and isinstance(event.value, str):
            port_input.value = str(DEFAULT_PORTS[event.value])
        self.refresh_warnings()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("port", "username"):
            self.refresh_warnings()
