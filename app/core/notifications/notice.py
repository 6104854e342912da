"""The notification mail itself: subject, plain-text body, and headers safe from injection."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from app.core.store.db import as_utc

HEADER_TEXT_LIMIT = 180
FIRST_LINES = 12
EVENT_WORDS = {
    "incident_opened": "opened",
    "incident_retriggered": "alerting again",
    "incident_accepted": "accepted",
    "incident_resolved": "resolved",
    "incident_escalated": "escalated",
}


def header_safe(text: str, limit: int = HEADER_TEXT_LIMIT) -> str:
    """One line of printable text: CR, LF and every other control character become spaces."""
    cleaned = "".join(
        " " if unicodedata.category(character)[0] == "C" else character for character in text
    )
    single = " ".join(cleaned.split())
    return single if len(single) <= limit else single[: limit - 1] + "…"


@dataclass(frozen=True)
class IncidentNotice:
    """What a notification says about its incident, read when it is sent."""

    incident_id: int
    title: str
    source: str
    severity: str
    state: str
    opened_at: datetime
    key: str | None
    event: str
    event_detail: str
    first_lines: tuple[str, ...]
    assignee: str | None = None  # §14: the notification names the owner
    latest_note: tuple[str, str, tuple[str, ...]] | None = None  # (who, when, lines)
    reply_to: str | None = None  # §15: local+TOKEN@domain, when the org has a reply address
    thread_root: str | None = None  # the Message-ID of the first mail of it to this address

    @property
    def subject(self) -> str:
        subject = f"[{self.severity.upper()}] #{self.incident_id} {header_safe(self.title)}"
        if self.event != "incident_opened":
            subject += f" ({EVENT_WORDS.get(self.event, self.event)})"
        return subject

    def body(self) -> str:
        lines = [
            f"Incident #{self.incident_id} is {self.state}: {self.title}",
            "",
            f"Event:     {EVENT_WORDS.get(self.event, self.event)}: {self.event_detail}",
            f"Source:    {self.source}",
            f"Severity:  {self.severity}",
            f"State:     {self.state}",
            f"Opened:    {as_utc(self.opened_at):%Y-%m-%d %H:%M:%S} UTC",
        ]
        if self.key:
            lines.append(f"Key:       {self.key}")
        if self.assignee:
            lines.append(f"Owner:     {header_safe(self.assignee)}")
        if self.latest_note:
            who, when, note_lines = self.latest_note
            lines += ["", f"The latest note, by {header_safe(who)} at {when}:", ""]
            lines += [f"  | {line}" for line in note_lines]
        if self.first_lines:
            lines += ["", "The first lines of the alert mail:", ""]
            lines += [f"  | {line}" for line in self.first_lines]
        lines += ["", "How to triage it:"]
        if self.reply_to:
            lines += [
                "  reply to this mail with one word on the first line: ack, resolve or",
                '  reopen; or write a note ("note <text>", or any other text);',
            ]
        lines += [
            "  in the mailsiren terminal UI (run `mailsiren`), select the incident in the log,",
            "  then press a to accept it (this stops its escalation) or r to resolve it;",
            f"  or from a shell: mailsiren incidents accept {self.incident_id}",
            "",
            "-- ",
            "Sent by mailsiren. "
            + (
                "A reply acts on this incident only from the address it was sent to."
                if self.reply_to
                else "Replies to this mail are ignored (never turned into alerts)."
            ),
        ]
        return "\n".join(lines) + "\n"


def first_lines_of(body: str, count: int = FIRST_LINES) -> tuple[str, ...]:
    lines = [line.rstrip() for line in body.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    return tuple(header_safe(line, 200) for line in lines[:count])


def build_message(
    *,
    to: str,
    subject: str,
    body: str,
    message_id: str,
    now: datetime,
    reply_to: str | None = None,
    thread_root: str | None = None,
) -> EmailMessage:
    """A plain-text notification with Auto-Submitted set; From is stamped by the sender.
    `reply_to` answers by email (§15); `thread_root` threads it on the incident's first mail
    to the same address."""
    message = EmailMessage()
    message["To"] = header_safe(to, 320)
    message["Subject"] = header_safe(subject, 250)
    message["Date"] = format_datetime(as_utc(now))
    message["Message-ID"] = header_safe(message_id, 250)
    if reply_to:
        message["Reply-To"] = header_safe(reply_to, 320)
    if thread_root:
        message["In-Reply-To"] = header_safe(thread_root, 250)
        message["References"] = header_safe(thread_root, 250)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"  # asks Exchange not to answer it
    message["Precedence"] = "bulk"
    message.set_content(body)
    return message


def summary_body(address: str, notices: list[IncidentNotice], window_minutes: int) -> str:
    """The one mail that carries every notification held back by storm control."""
    lines = [
        f"{len(notices)} notifications for {address} were held back: more than the storm "
        f"limit arrived within {window_minutes} minutes. Here they are together:",
        "",
    ]
    for notice in notices:
        lines.append(f"- {notice.subject}")
        lines.append(
            f"    {EVENT_WORDS.get(notice.event, notice.event)}; source {notice.source}; "
            f"now {notice.state}"
        )
    lines += [
        "",
        "Triage them in the mailsiren terminal UI (run `mailsiren`).",
        "",
        "-- ",
        "Sent by mailsiren. Replies to this mail are ignored (never turned into alerts).",
    ]
    return "\n".join(lines) + "\n"
