"""Which SMTP configuration sends a user's mail, and the shared one's Force-From and Allowed-To."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage

from app.core.addresses import has_line_break
from app.core.sending.personal import SmtpSettings, load_settings_for_sending
from app.core.sending.shared import AllowedGroup, AllowedPattern, SharedConfig, SharedConfigState
from app.core.store.db import Database
from app.core.users import UserView
from app.errors import MailsirenError

PERSONAL = "personal"
SHARED = "shared"
NONE = "none"

BOTH_WAYS_OUT = (
    "set your own SMTP settings (mailsiren smtp set, or the SMTP screen) "
    "or ask an administrator for access to the shared configuration"
)
NO_CONFIGURATION = f"You have no email configuration: {BOTH_WAYS_OUT}."


class RecipientRefused(MailsirenError):
    """A recipient the shared configuration's Allowed-To does not admit."""

    title = "Recipient not allowed"

    def __init__(self, address: str, config: SharedConfig) -> None:
        self.address = address
        patterns = ", ".join(f"`{pattern.text}`" for pattern in config.allowed_to)
        super().__init__(
            f"{address} is not an allowed recipient of the shared configuration: the whole "
            f"lower-cased address must match one Allowed-To pattern ({patterns}). "
            "Nothing was sent."
        )


@dataclass(frozen=True)
class SendingChoice:
    """Which configuration sends for one user, why, and the settings to connect with."""

    kind: str  # PERSONAL, SHARED or NONE
    reason: str
    settings: SmtpSettings | None  # with the password; None when kind is NONE
    shared: SharedConfigState
    admitted_by: AllowedGroup | None = None  # the Allowed-Group that let the user in
    shared_would_admit: bool = False  # with personal settings: would the shared one apply?

    @property
    def usable(self) -> bool:
        return self.settings is not None

    @property
    def force_from(self) -> str | None:
        config = self.shared.config
        return config.force_from if self.kind == SHARED and config else None

    def sender(self, requested: str | None) -> str | None:
        """The sender for header and envelope: Force-From wins over whatever was asked."""
        return self.force_from or requested or (self.settings and self.settings.from_address)

    def stamp_sender(self, message: EmailMessage) -> str:
        """Put the sender that will be used in the From header; return it for MAIL FROM.

        With the shared configuration's Force-From, it replaces whatever From the message had.
        """
        sender = self.sender(message["From"] and message["From"].addresses[0].addr_spec)
        if not sender or has_line_break(sender):
            raise ValueError("no usable sender address for this message")
        del message["From"]
        message["From"] = sender
        return sender

    def admitting_pattern(self, address: str) -> AllowedPattern | None:
        """The Allowed-To that admits the address; None if none does (or none are set)."""
        config = self.shared.config
        if self.kind != SHARED or config is None:
            return None
        return config.admitting_pattern(address)

    def check_recipients(self, addresses: Iterable[str]) -> None:
        """Raise RecipientRefused for the first address Allowed-To does not admit."""
        config = self.shared.config
        if self.kind != SHARED or config is None or not config.allowed_to:
            return
        for address in addresses:
            if config.admitting_pattern(address) is None:
                raise RecipientRefused(address, config)


def shared_admission(config: SharedConfig, user: UserView) -> tuple[bool, AllowedGroup | None]:
    """Whether the user may use the shared configuration, and the group that admits them."""
    if not config.allowed_groups:
        return True, None
    for group in config.allowed_groups:
        if group.name in user.groups:
            return True, group
    return False, None


def shared_settings(config: SharedConfig, user: UserView) -> SmtpSettings:
    return SmtpSettings(
        server=config.server,
        port=config.port,
        tls_mode="starttls" if config.use_tls else "none",
        skip_certificate_verification=config.insecure_skip_verify,
        username=config.username,
        password=config.password,
        from_address=config.force_from or user.email,
    )


def choose_configuration(
    database: Database, user: UserView, shared: SharedConfigState
) -> SendingChoice:
    """SPEC §2: personal always wins (no fallback); else shared if allowed; else refusal."""
    config = shared.config
    admitted, group = shared_admission(config, user) if config else (False, None)
    personal = load_settings_for_sending(database, user)
    if personal is not None:
        reason = (
            "You have personal SMTP settings: they always send your mail. If they fail, the "
            "send fails; mailsiren never falls back to the shared configuration."
        )
        if admitted:
            reason += " (Clear your settings to use the shared configuration instead.)"
        return SendingChoice(PERSONAL, reason, personal, shared, shared_would_admit=admitted)
    if shared.broken:
        return SendingChoice(
            NONE,
            f"The shared configuration in {shared.path} has errors an administrator must fix; "
            f"meanwhile {BOTH_WAYS_OUT}.",
            None,
            shared,
        )
    if config is None:
        return SendingChoice(NONE, NO_CONFIGURATION, None, shared)
    if not admitted:
        names = ", ".join(group.name for group in config.allowed_groups)
        return SendingChoice(
            NONE,
            f"The shared configuration is limited to the groups {names}, and you are in none "
            f"of them: {BOTH_WAYS_OUT}.",
            None,
            shared,
        )
    if group is None:
        reason = "You have no personal SMTP settings; the shared configuration has no "
        reason += "Allowed-Group, so every user may use it."
    else:
        reason = (
            f"You have no personal SMTP settings; you are in the group {group.name}, which "
            f"Allowed-Group admits ({group.origin})."
        )
    return SendingChoice(SHARED, reason, shared_settings(config, user), shared, group)
