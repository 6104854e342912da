"""A user's personal SMTP settings: validation, warnings, saving, reading and clearing."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from app.core.addresses import AddressError, has_line_break, parse_address, parse_host_name
from app.core.store.db import Clock, Database, as_utc, utc_now
from app.core.store.models import SmtpPreference
from app.core.users import UserView
from app.errors import MailsirenError

TLS_MODES = ("starttls", "tls", "none")
TLS_MODE_LABELS = {
    "starttls": "STARTTLS (usually port 587 or 25)",
    "tls": "Implicit TLS (usually port 465)",
    "none": "None: plaintext",
}
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


@dataclass(frozen=True)
class SmtpForm:
    """What a person typed, as text: validated into SmtpSettings."""

    server: str
    port: str
    username: str = ""
    password: str = ""
    tls_mode: str = "starttls"
    skip_certificate_verification: bool = False
    from_address: str = ""


@dataclass(frozen=True)
class SmtpSettings:
    """Settings that can be used to connect. `password` is present only to send."""

    server: str
    port: int
    tls_mode: str
    skip_certificate_verification: bool
    username: str | None
    password: str | None
    from_address: str | None

    def __repr__(self) -> str:  # never print a password, even by accident
        shown = replace(self, password="***" if self.password else None)
        return "SmtpSettings" + repr(shown.__dict__)


@dataclass(frozen=True)
class SmtpPreferenceView:
    """The saved settings as screens show them: the password only as 'saved'."""

    server: str
    port: int
    tls_mode: str
    skip_certificate_verification: bool
    username: str | None
    has_password: bool
    from_address: str | None
    effective_from: str | None
    updated_at: datetime
    warnings: tuple[str, ...]


class SmtpFormInvalid(MailsirenError):
    """One or more fields are wrong: field name → message."""

    title = "SMTP settings not saved"

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))


def validate_form(form: SmtpForm) -> SmtpSettings:
    """Return settings, or raise SmtpFormInvalid naming every wrong field."""
    errors: dict[str, str] = {}
    server = ""
    try:
        server = parse_host_name(form.server)
    except AddressError as error:
        errors["server"] = sentence(str(error))
    port = 0
    text = form.port.strip()
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        errors["port"] = "A port is a number from 1 to 65535 (587 STARTTLS, 465 TLS, 25)"
    else:
        port = int(text)
    if form.tls_mode not in TLS_MODES:
        errors["tls_mode"] = f"Choose one of: {', '.join(TLS_MODES)}"
    username = form.username.strip()
    if has_line_break(username):
        errors["username"] = "A user name cannot contain a line break"
    if has_line_break(form.password):
        errors["password"] = "A password cannot contain a line break"
    from_address = form.from_address.strip()
    if from_address:
        try:
            from_address = parse_address(from_address)
        except AddressError as error:
            errors["from_address"] = sentence(str(error))
    if errors:
        raise SmtpFormInvalid(errors)
    return SmtpSettings(
        server=server,
        port=port,
        tls_mode=form.tls_mode,
        skip_certificate_verification=form.skip_certificate_verification,
        username=username or None,
        password=form.password or None,
        from_address=from_address or None,
    )


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def settings_warnings(
    tls_mode: str, skip_certificate_verification: bool, has_credentials: bool, port: int
) -> tuple[str, ...]:
    warnings = []
    if tls_mode == "none" and has_credentials:
        warnings.append(
            "Your user name and password will cross the network unencrypted: use STARTTLS or TLS."
        )
    if tls_mode != "none" and skip_certificate_verification:
        warnings.append(
            "Certificate validation is off: anyone on the path can pose as the server and "
            "read your password. Use only with a self-signed certificate you trust."
        )
    if tls_mode == "tls" and port in (25, 587):
        warnings.append(f"Port {port} usually speaks STARTTLS, not implicit TLS.")
    if tls_mode == "starttls" and port == 465:
        warnings.append("Port 465 usually speaks implicit TLS: choose TLS mode 'tls'.")
    return tuple(warnings)


def save_preferences(
    database: Database, user: UserView, form: SmtpForm, *, clock: Clock = utc_now
) -> SmtpPreferenceView:
    """Validate and save. An empty password keeps the one already saved."""
    settings = validate_form(form)
    with database.write() as session:
        row = session.get(SmtpPreference, user.id)
        if row is None:
            row = SmtpPreference(
                user_id=user.id, server="", port=0, tls_mode="starttls", updated_at=clock()
            )
            session.add(row)
        row.server = settings.server
        row.port = settings.port
        row.tls_mode = settings.tls_mode
        row.skip_certificate_verification = settings.skip_certificate_verification
        row.username = settings.username
        if settings.password is not None:
            row.password = settings.password
        if settings.username is None:
            row.password = None
        row.from_address = settings.from_address
        row.updated_at = clock()
        session.flush()
        return _view(row, user)


def load_preferences(database: Database, user: UserView) -> SmtpPreferenceView | None:
    with database.read() as session:
        row = session.get(SmtpPreference, user.id)
        return None if row is None else _view(row, user)


def load_settings_for_sending(database: Database, user: UserView) -> SmtpSettings | None:
    """The saved settings with the password, for a conversation with the server."""
    with database.read() as session:
        row = session.get(SmtpPreference, user.id)
        if row is None:
            return None
        return SmtpSettings(
            server=row.server,
            port=row.port,
            tls_mode=row.tls_mode,
            skip_certificate_verification=row.skip_certificate_verification,
            username=row.username,
            password=row.password,
            from_address=row.from_address or user.email,
        )


def clear_preferences(database: Database, user: UserView) -> bool:
    """Delete the user's settings; True if there were any."""
    with database.write() as session:
        row = session.get(SmtpPreference, user.id)
        if row is None:
            return False
        session.delete(row)
        return True


def _view(row: SmtpPreference, user: UserView) -> SmtpPreferenceView:
    return SmtpPreferenceView(
        server=row.server,
        port=row.port,
        tls_mode=row.tls_mode,
        skip_certificate_verification=row.skip_certificate_verification,
        username=row.username,
        has_password=row.password is not None,
        from_address=row.from_address,
        effective_from=row.from_address or user.email,
        updated_at=as_utc(row.updated_at),
        warnings=settings_warnings(
            row.tls_mode, row.skip_certificate_verification, bool(row.username), row.port
        ),
    )
