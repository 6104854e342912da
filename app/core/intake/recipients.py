"""Which recipients a mail piped in without an envelope (`mailsiren ingest`) is for: its headers'."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.utils import getaddresses

ROUTING_HEADERS = ("Delivered-To", "To", "Cc", "Bcc")


def header_recipients(raw: bytes) -> list[str]:
    """Every address in Delivered-To, To, Cc and Bcc, in that order, as the mail names them."""
    message = message_from_bytes(raw, policy=policy.compat32)
    values = [value for name in ROUTING_HEADERS for value in message.get_all(name, [])]
    return [address for _name, address in getaddresses([str(v) for v in values]) if address]
