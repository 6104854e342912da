"""Validation of email addresses and host names typed by people: no header injection."""

from __future__ import annotations

import re

from app.errors import MailsirenError

# A conservative addr-spec: dot-atom local part (or a simple one with + and -), a domain
# of labels. Quoted local parts are refused; no alerting address needs them.
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_HOST_NAME = re.compile(r"^[A-Za-z0-9.-]{1,253}$|^\[?[0-9A-Fa-f:.]{2,45}\]?$")


class AddressError(MailsirenError, ValueError):
    """An address or host name that cannot be used; the message says why."""

    title = "Address not valid"


def has_line_break(text: str) -> bool:
    return any(character in text for character in "\r\n\0")


def parse_address(text: str) -> str:
    """Return the address stripped of surrounding blanks, or raise AddressError."""
    address = text.strip()
    if has_line_break(address):
        raise AddressError("an address cannot contain a line break")
    if not address:
        raise AddressError("the address is empty")
    if any(character.isspace() for character in address) or "<" in address or ">" in address:
        raise AddressError(f"{address!r} is not a plain address like name@example.com")
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise AddressError(f"{address!r} lacks the @domain part, as in name@example.com")
    if not _LOCAL_PART.match(local) or local.startswith(".") or ".." in local:
        raise AddressError(f"{local!r} is not a valid mailbox name")
    labels = domain.rstrip(".").split(".")
    if len(domain) > 253 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        raise AddressError(f"{domain!r} is not a valid domain")
    return address


def parse_host_name(text: str) -> str:
    host = text.strip()
    if not host:
        raise AddressError("the server name is empty")
    if has_line_break(host) or not _HOST_NAME.match(host):
        raise AddressError(f"{host!r} is not a host name or IP address")
    return host.strip("[]")
