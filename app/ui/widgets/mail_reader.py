"""One received mail for reading: the headers that matter and the decoded text, or raw."""

from __future__ import annotations

from rich.text import Text

from app.core.incidents.log import MailDetail
from app.ui.display import printable, when


def mail_text(mail: MailDetail, *, raw: bool) -> Text:
    """The headers that matter and the decoded text, or the source as received."""
    if raw and mail.pruned_at:
        return Text(pruned_text(mail), style="italic")
    if raw:
        return Text(printable_lines(mail.raw))
    text = Text()
    for label, value in (
        ("From", mail.from_),
        ("To", mail.to),
        ("Subject", mail.subject),
        ("Date", mail.date or "(none)"),
        ("Message-ID", mail.message_id or "(none)"),
        (
            "Envelope",
            f"{mail.envelope_from or '<>'} → {', '.join(mail.envelope_to)} via {mail.via}",
        ),
        ("Outcome", f"{mail.outcome}: {mail.reason}"),
    ):
        text.append(f"{label}: ", style="bold")
        text.append(printable(value) + "\n")
    for defect in mail.defects:
        text.append("Defect: ", style="bold yellow")
        text.append(printable(defect) + "\n")
    text.append("\n")
    if mail.pruned_at:
        text.append(pruned_text(mail), style="italic")
        return text
    text.append(printable_lines(mail.text))
    return text


def pruned_text(mail: MailDetail) -> str:
    """What a mail says once retention emptied it (§17)."""
    return (
        f"This mail's text was pruned on {when(mail.pruned_at)} (retention): its raw source "
        "and text are gone; its subject, outcome and the incident's timeline stay."
    )


def printable_lines(text: str) -> str:
    """Keep line breaks and tabs; replace every other control character."""
    return "\n".join(printable(line.replace("\t", "    ")) for line in text.splitlines())
