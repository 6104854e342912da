"""Which recipients a mail piped in without an envelope (`mailsiren ingest`) is for: its headers'."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses

from app.core.intake.mail import header_section

ROUTING_HEADERS = ("Delivered-To", "To", "Cc", "Bcc")
_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"]+@[^\s<>()\[\],;:\"]+")


def header_recipients(raw: bytes) -> list[str]:
    """Every address in Delivered-To, To, Cc and Bcc, in that order, as the mail names them.

    Only the header section is read (capped as the parser caps it), so no body stops a mail
    from finding its source; a value the address parser cannot take is searched for
    addresses instead."""
    head, _rest = header_section(raw, [])
    message = BytesParser(policy=policy.compat32).parsebytes(head, headersonly=True)
    found: list[str] = []
    for name in ROUTING_HEADERS:
        for value in message.get_all(name, []):
            found.extend(_addresses(str(value)))
    return found


def _addresses(value: str) -> list[str]:
    try:
        return [address for _name, address in getaddresses([value]) if address]
    except Exception:  # noqa: BLE001 - RecursionError on "((((…": read it more simply
        return _ADDRESS.findall(value)
