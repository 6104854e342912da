"""What an SMTP server's refusal means and what to do: one table from stage and reply to advice."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Advice:
    """One row: the advice for a reply that matches every condition the row sets."""

    text: str
    pattern: re.Pattern[str] | None = None  # searched in the whole reply, e.g. "550 5.1.1 …"
    codes: frozenset[int] | range | None = None
    stages: frozenset[str] | None = None  # stage names as app.core.sending.smtp spells them

    def fits(self, stage: str, code: int | None, reply: str) -> bool:
        return (
            (self.stages is None or stage in self.stages)
            and (self.codes is None or code in self.codes)
            and (self.pattern is None or self.pattern.search(reply) is not None)
        )


UNKNOWN_MAILBOX = (
    "Unknown mailbox: verify the email address (a typo?) and that the mailbox is active."
)
MAILBOX_FULL = "Mailbox full: verify the mailbox status; its owner must make room."

# First fit wins. The login's replies come first (AUTH's codes, and 530 "authentication
# required" at any stage: they are about the account, whatever else they say); then the
# seed's troubleshooting table, matched on the reply's words (fixed patterns); then what
# the reply code alone says at a stage.
REPLY_ADVICE: tuple[Advice, ...] = (
    Advice(
        "The server refused the user name or password. Check both; some providers "
        "(Gmail, Microsoft 365) want an app password.",
        codes=frozenset({535}), stages=frozenset({"AUTH"}),
    ),
    Advice(
        "The server wants a stronger login method or an app password.",
        codes=frozenset({534}), stages=frozenset({"AUTH"}),
    ),
    Advice(
        "The server allows this login only over TLS: turn on Use TLS.",
        codes=frozenset({538}), stages=frozenset({"AUTH"}),
    ),
    Advice(
        "The server requires authentication (and often TLS) first.", codes=frozenset({530})
    ),
    Advice(
        UNKNOWN_MAILBOX,
        re.compile(r"(user|mailbox|recipient|address).{0,40}(unknown|not found|does not exist|"
                   r"no such|invalid|unavailable)|5\.1\.1|no such (user|mailbox)", re.I),
    ),
    Advice(
        MAILBOX_FULL,
        re.compile(r"mailbox (is )?full|quota|over ?quota|insufficient storage|4\.2\.2|5\.2\.2", re.I),
    ),
    Advice(
        "The distribution list does not accept external senders: update the list to allow "
        "external messages, or send to its members.",
        re.compile(r"external|not (allowed|authori[sz]ed|permitted) to (send|post)|"
                   r"distribution list|group.{0,30}(restrict|moderat)|authrequired", re.I),
    ),
    Advice(
        "Relay denied: the server will not pass mail on for this recipient. Log in (user "
        "name and password in the SMTP settings) or use a server that accepts mail for it.",
        re.compile(r"relay", re.I),
    ),
    Advice(
        "Refused as spam or by policy: allowlist mailsiren's sending domain in the mail "
        "gateway, add it to SPF (or a DMARC exception), and check the quarantine/junk folder.",
        re.compile(r"spam|blocked|blacklist|blocklist|reputation|dmarc|spf|dkim|policy|"
                   r"5\.7\.1|rejected", re.I),
    ),
    Advice(
        "The server refuses this sender: set a From address this account may use.",
        codes=frozenset({550, 553, 555}), stages=frozenset({"MAIL FROM"}),
    ),
    Advice(UNKNOWN_MAILBOX, codes=frozenset({550, 551, 553}), stages=frozenset({"RCPT TO"})),
    Advice(MAILBOX_FULL, codes=frozenset({552}), stages=frozenset({"RCPT TO"})),
    Advice("A temporary refusal: the server asks to try again later.", codes=range(400, 500)),
)  # fmt: skip


def reply_code(reply: str) -> int | None:
    """The three-digit code a reply starts with ("550 5.1.1 …" → 550), or None."""
    head = reply[:3]
    return int(head) if head.isdigit() else None


def advice_for_reply(stage: str, reply: str) -> str:
    """The advice for a server's reply met at a stage, or "" when no row fits."""
    code = reply_code(reply)
    return next((row.text for row in REPLY_ADVICE if row.fits(stage, code, reply)), "")
