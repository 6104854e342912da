"""What a Test Configuration run needs: whose settings, which recipient, which mode."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.addresses import AddressError, parse_address
from app.core.db import Database
from app.core.smtpprefs import SmtpSettings, load_settings_for_sending
from app.core.users import UserView

NO_CONFIGURATION = (
    "You have no email configuration: set your own SMTP settings "
    "(mailsiren smtp set, or the SMTP screen) or ask an administrator for a shared one."
)


class TestRequestError(Exception):
    """The test cannot start; the message says what to set first."""


@dataclass(frozen=True)
class SmtpTestRequest:
    settings: SmtpSettings
    recipient: str
    mode: str


def prepare_smtp_test(
    database: Database, user: UserView, *, recipient: str | None, probe: bool
) -> SmtpTestRequest:
    """The saved settings and the recipient (the given one, else the user's own address)."""
    settings = load_settings_for_sending(database, user)
    if settings is None:
        raise TestRequestError(NO_CONFIGURATION)
    if not settings.from_address:
        raise TestRequestError(
            "No sender address: set a From address in your SMTP settings (--from)."
        )
    chosen = recipient or user.email or settings.from_address
    try:
        chosen = parse_address(chosen)
    except AddressError as error:
        raise TestRequestError(f"The recipient is not usable: {error}.") from error
    return SmtpTestRequest(settings, chosen, "probe" if probe else "send")
