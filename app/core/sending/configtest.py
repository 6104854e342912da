"""What a Test Configuration run needs: which configuration, which sender and recipient."""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.core.addresses import AddressError, parse_address
from app.core.sending.choice import RecipientRefused, SendingChoice, choose_configuration
from app.core.sending.personal import SmtpSettings
from app.core.sending.shared import SharedConfigState
from app.core.store.db import Database
from app.core.users import UserView
from app.errors import MailsirenError


class SmtpTestRefused(MailsirenError):
    """The test cannot start; the message says what to set first."""

    title = "Test Configuration cannot start"


@dataclass(frozen=True)
class SmtpTestRequest:
    settings: SmtpSettings  # from_address is the sender, Force-From already applied
    recipient: str
    mode: str
    choice: SendingChoice

    @property
    def heading(self) -> str:
        verb = "Probing" if self.mode == "probe" else "Sending a test email"
        return (
            f"{verb} with your {self.choice.kind} configuration through "
            f"{self.settings.server}:{self.settings.port} ({self.settings.tls_mode}), "
            f"from {self.settings.from_address} to {self.recipient}"
        )


def prepare_smtp_test(
    database: Database,
    user: UserView,
    shared: SharedConfigState,
    *,
    recipient: str | None,
    probe: bool,
) -> SmtpTestRequest:
    """The configuration that would send (SPEC §2), the sender and the checked recipient.

    A recipient the shared configuration's Allowed-To refuses is refused here, before any
    connection is made.
    """
    choice = choose_configuration(database, user, shared)
    if choice.settings is None:
        raise SmtpTestRefused(choice.reason)
    sender = choice.sender(None)
    if not sender:
        raise SmtpTestRefused(
            "No sender address: set a From address in your SMTP settings (--from), "
            "or your email address (ask an administrator: mailsiren users set)."
        )
    chosen = recipient or user.email or sender
    try:
        chosen = parse_address(chosen)
        choice.check_recipients([chosen])
    except AddressError as error:
        raise SmtpTestRefused(f"The recipient is not usable: {error}.") from error
    except RecipientRefused as error:
        raise SmtpTestRefused(str(error)) from error
    settings = replace(choice.settings, from_address=sender)
    return SmtpTestRequest(settings, chosen, "probe" if probe else "send", choice)
