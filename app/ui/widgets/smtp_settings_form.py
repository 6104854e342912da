"""The personal SMTP settings form: the seed's fields, TLS mode and From, errors beside fields."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static

from app.core.sending.personal import (
    DEFAULT_PORTS,
    SmtpForm,
    SmtpFormInvalid,
    SmtpPreferenceView,
    settings_warnings,
    validate_form,
)
from app.ui.display import when, zone_name

FIELDS = ("server", "port", "username", "password", "tls_mode", "from_address")
TLS_CHOICES = [("STARTTLS (port 587 or 25)", "starttls"), ("Implicit TLS (port 465)", "tls")]
NO_TLS_CHOICE = [("None: plaintext (Use TLS is off)", "none")]  # shown greyed, as it is


def error_id(field: str) -> str:
    """The id of the line under a field that shows its error."""
    return f"error-{field.replace('_', '-')}"


class SmtpSettingsForm(VerticalScroll, can_focus=False):
    """Reads and fills the form; shows field errors and live security warnings.

    It scrolls to the focused field but never takes focus itself: a focused container lets
    typed text reach the screen's and the app's keys (`1` switches screens).
    """

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
        self._tls_choice = "starttls"  # the mode Use TLS brings back when turned on again

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
                TLS_CHOICES,
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
                    self._tls_choice = view.tls_mode
                    self._show_tls_mode(True)
                    self.query_one("#tls-mode", Select).value = view.tls_mode
                self.query_one("#skip-verify", Checkbox).value = view.skip_certificate_verification
                self.query_one("#from-address", Input).value = view.from_address or ""
        has_saved_password = bool(view and view.has_password)
        self.query_one("#password", Input).placeholder = (
            "•••••• saved — type to replace" if has_saved_password else ""
        )
        state = self.query_one("#saved-state", Static)
        state.update(
            f"Saved {when(view.updated_at)[:16]} {zone_name()}." if view else "Not saved yet."
        )
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

    def clear_fixed_errors(self) -> None:
        """Drop the error of each field that is valid now; a new error waits for ctrl+s."""
        shown = [f for f in FIELDS if not self.query_one(f"#{error_id(f)}").has_class("-empty")]
        if not shown:
            return
        try:
            validate_form(self.read())
            remaining: dict[str, str] = {}
        except SmtpFormInvalid as error:
            remaining = error.errors
        for field in shown:
            if field not in remaining:
                label = self.query_one(f"#{error_id(field)}", Static)
                label.update("")
                label.add_class("-empty")

    def _show_tls_mode(self, use_tls: bool) -> None:
        """The mode select reads what will happen: greyed "None" while Use TLS is off."""
        select = self.query_one("#tls-mode", Select)
        if select.disabled == (not use_tls):
            return
        with self.prevent(Select.Changed):
            if use_tls:
                select.set_options(TLS_CHOICES)
                select.value = self._tls_choice
            else:
                select.set_options(NO_TLS_CHOICE)
                select.value = "none"
        select.disabled = not use_tls

    def refresh_warnings(self) -> None:
        self._show_tls_mode(self.query_one("#use-tls", Checkbox).value)
        form = self.read()
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
        self.clear_fixed_errors()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.value in DEFAULT_PORTS and event.value != "none":
            self._tls_choice = str(event.value)
        port_input = self.query_one("#port", Input)
        if not port_input.value and isinstance(event.value, str):
            port_input.value = str(DEFAULT_PORTS[event.value])
        self.refresh_warnings()
        self.clear_fixed_errors()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("port", "username"):
            self.refresh_warnings()
        self.clear_fixed_errors()
