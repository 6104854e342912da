"""The alert mail a monitoring system sends, as the raw bytes the listener stores: the one
builder the tests use (a test names only what it depends on: subject, body, headers)."""

from __future__ import annotations

from collections.abc import Mapping
from email.header import Header
from email.utils import make_msgid

SENDER = "nagios@mon.example.net"
SOURCE = "nagios@alerts.example.com"


def alert_mail(
    subject: str,
    body: str = "CRITICAL",
    *,
    sender: str = SENDER,
    to: str | None = SOURCE,
    message_id: str | bool = True,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """From, To (unless None), Subject, Message-ID (True: a fresh one in the sender's
    domain; False: none), then `headers` in order, and a text/plain `body`.

    Values are written as given, so that a test can send an encoded word or a header
    injection attempt verbatim; only non-ASCII text is encoded (RFC 2047, UTF-8 body).
    Lines end in CRLF, as over SMTP."""
    fields = [("From", sender)]
    if to is not None:
        fields.append(("To", to))
    fields.append(("Subject", subject))
    if message_id is True:
        fields.append(("Message-ID", make_msgid(domain=sender.rpartition("@")[2])))
    elif message_id:
        fields.append(("Message-ID", message_id))
    fields.extend((headers or {}).items())
    text = "".join(line + "\r\n" for line in body.splitlines())
    fields += [
        ("MIME-Version", "1.0"),
        ("Content-Type", 'text/plain; charset="utf-8"'),
        ("Content-Transfer-Encoding", "7bit" if text.isascii() else "8bit"),
    ]
    head = "".join(f"{name}: {header_text(value)}\r\n" for name, value in fields)
    return (head + "\r\n" + text).encode()


def header_text(value: str) -> str:
    """ASCII as given; anything else as RFC 2047 encoded words, folded with CRLF."""
    if value.isascii():
        return value
    return Header(value, "utf-8").encode(linesep="\r\n")
