"""Answering a notification by email (SPEC §15): the Reply-To token, and what a reply to it does.

A notification to an address carries `Reply-To: local+I.E.MAC@domain`, I the incident, E the
timeline event it told of, MAC the first 130 bits (26 base32 letters) of an HMAC-SHA256
under a key derived from the key file's HMAC key, over the incident, the event and the
recipient's keyed hash. A reply is honoured only when the MAC verifies for one of the event's
deliveries, and the sender is that delivery's recipient, or a mailsiren user with `triage`
whose email the sender is. The key is never in the database, and `key rotate` does not change
it (it rotates the Fernet keys): tokens stay valid, for TOKEN_DAYS after their event.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import getaddresses

from sqlalchemy import Connection, select

from app.core.incidents.lifecycle import EVENTS, IncidentError, add_note, record_event, triage
from app.core.intake.mail import ParsedMail
from app.core.store.db import as_utc
from app.core.store.models import Delivery, User
from app.core.store.secrets import KeyRing, keyring_of, normalise_address

DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]
MAC_LETTERS = 26  # 130 bits of base32: not guessable, short enough for a 64-character local part
TOKEN_DAYS = 30  # a reply to a notification older than this is refused
_TOKEN = re.compile(r"^(?P<incident>[0-9]{1,12})\.(?P<event>[0-9]{1,12})\.(?P<mac>[a-z2-7]{26})$")
COMMANDS = {"ack": "accept", "accept": "accept", "resolve": "resolve", "reopen": "reopen"}


def _token_key(keyring: KeyRing) -> bytes:
    """A key of its own for reply tokens, derived from the key file's HMAC key."""
    return hmac.new(keyring.hmac_key, b"mailsiren reply token v1", hashlib.sha256).digest()


def _mac(keyring: KeyRing, incident_id: int, event_id: int, address_hash: str) -> str:
    message = f"{incident_id}:{event_id}:{address_hash}".encode()
    digest = hmac.new(_token_key(keyring), message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:MAC_LETTERS]


def reply_token(keyring: KeyRing, incident_id: int, event_id: int, address: str) -> str:
    """The token a notification of this event to this address carries."""
    address_hash = keyring.keyed_hash(normalise_address(address))
    return f"{incident_id}.{event_id}.{_mac(keyring, incident_id, event_id, address_hash)}"


def reply_to_address(reply_address: str, token: str) -> str:
    local, _, domain = reply_address.rpartition("@")
    return f"{local}+{token}@{domain}"


def reply_pattern(reply_address: str) -> str:
    """What the listener's address set holds for the reply address: `local+*@domain`."""
    local, _, domain = reply_address.lower().rpartition("@")
    return f"{local}+*@{domain}"


def is_reply_recipient(address: str, reply_address: str | None) -> bool:
    """True for `local+anything@domain` of the reply address (any case)."""
    if not reply_address:
        return False
    local, _, domain = address.lower().rpartition("@")
    base, plus, _tag = local.partition("+")
    return bool(plus) and f"{base}@{domain}" == reply_address.lower()


@dataclass(frozen=True)
class ReplyOutcome:
    outcome: str  # reply | reply_refused
    incident_id: int | None
    reason: str


def refused(reason: str, incident_id: int | None = None) -> ReplyOutcome:
    return ReplyOutcome("reply_refused", incident_id, reason)


def answer_reply(
    connection: Connection,
    parsed: ParsedMail,
    recipient: str,
    envelope_from: str | None,
    now: datetime,
    mail_id: int | None = None,
) -> ReplyOutcome:
    """Verify the reply's token and sender and apply its command, in the caller's
    transaction; a refusal changes nothing and says why."""
    keyring = keyring_of(connection.dialect)
    token = recipient.lower().rpartition("@")[0].partition("+")[2]
    found = _TOKEN.match(token)
    if found is None:
        return refused("the reply address carries no token of a notification of ours")
    incident_id, event_id = int(found["incident"]), int(found["event"])
    deliveries = connection.execute(
        select(DELIVERIES.c.id, DELIVERIES.c.address_hash).where(
            DELIVERIES.c.incident_id == incident_id, DELIVERIES.c.event_id == event_id
        )
    ).all()
    delivery = next(
        (
            row
            for row in deliveries
            if hmac.compare_digest(_mac(keyring, incident_id, event_id, row.address_hash),
                                   found["mac"])
        ),
        None,
    )  # fmt: skip
    if delivery is None:
        return refused("bad token: it was made by no notification of ours")
    sent_at = connection.execute(select(EVENTS.c.at).where(EVENTS.c.id == event_id)).scalar()
    if sent_at is not None and as_utc(sent_at) < now - timedelta(days=TOKEN_DAYS):
        return refused(f"the notification is over {TOKEN_DAYS} days old", incident_id)
    sender = _sender(parsed, envelope_from)
    if sender is None:
        return refused("the reply has no sender address", incident_id)
    if sender is False:
        return refused("wrong sender: its From header and envelope sender differ", incident_id)
    actor = _actor(connection, keyring.keyed_hash(sender), delivery)
    if actor is None:
        return refused(
            "wrong sender: it is neither the notification's recipient nor a mailsiren user "
            "with the triage permission",
            incident_id,
        )
    action, note = reply_command(parsed.body)
    try:
        if action == "note":
            add_note(connection, actor, incident_id, note, now)
        else:
            triage(connection, actor, action, [incident_id], now)
    except IncidentError as error:
        return refused(f"{error}", incident_id)
    said = f"{action} by {actor}, answering notification {delivery.id} by email"
    record_event(connection, incident_id, now, "reply", said, actor=actor, mail_id=mail_id)
    return ReplyOutcome("reply", incident_id, said)


def _actor(connection: Connection, sender_hash: str, delivery) -> str | None:
    """Who acts: a mailsiren user with `triage` whose email sent it; else the recipient (by
    their user name, or by the notification, never by address); else None."""
    users = connection.execute(
        select(USERS.c.name, USERS.c.permissions).where(USERS.c.email_hash == sender_hash)
    ).all()
    for user in users:
        if {"triage", "admin"} & set(user.permissions or ()):
            return user.name
    if delivery.address_hash == sender_hash:
        return users[0].name if users else f"the recipient of notification {delivery.id}"
    return None


def _sender(parsed: ParsedMail, envelope_from: str | None) -> str | None | bool:
    """The one address the reply comes from: its From header, which the envelope sender (when
    there is one) must be too — so a forged From sent from the forger's own mailbox does not
    pass. None: no sender; False: they differ."""
    senders = {normalise_address(address) for _name, address in getaddresses([parsed.from_])}
    if envelope_from:
        senders.add(normalise_address(envelope_from))
    senders = {sender for sender in senders if "@" in sender}
    if not senders:
        return None
    return senders.pop() if len(senders) == 1 else False


def reply_command(text: str) -> tuple[str, str]:
    """(action, note text): the first line that is neither empty nor quoted is the command
    (`ack`/`accept`, `resolve`, `reopen`, `note <text>`); any other text is a note."""
    written = person_lines(text)
    if not written:
        return "note", ""
    first = written[0]
    word, _, rest = first.partition(" ")
    word = word.lower().rstrip(".!:,")
    if word in COMMANDS and not rest.strip():
        return COMMANDS[word], ""
    if word == "note":
        return "note", "\n".join([rest.strip(), *written[1:]]).strip()
    return "note", "\n".join(written)


ATTRIBUTIONS = (  # the line before a >-quoted mail; bottom-posters write below it
    re.compile(r"^On .+wrote:$", re.IGNORECASE),  # Gmail, Apple Mail, Thunderbird, mutt
    re.compile(r"^Le .+a écrit\s?:$", re.IGNORECASE),
    re.compile(r"^Am .+schrieb .+:$", re.IGNORECASE),
)
QUOTE_STARTS = (  # where an unquoted copy of the notification, or a signature, begins
    re.compile(r"^-{2,}\s*Original Message\s*-{2,}$", re.IGNORECASE),  # Outlook
    re.compile(r"^_{10,}$"),  # Outlook's rule before "From: …"
    re.compile(r"^From: .+"),  # Outlook's header block of the quoted mail
    re.compile(r"^Sent from my "),  # a phone's signature
    re.compile(r"^-- ?$"),  # a signature
)


def person_lines(text: str) -> list[str]:
    """What the person wrote: no quoted (>) lines, nothing from the quoted copy or the
    signature on; an attribution line ("On … wrote:") ends a top-posted answer, and is
    skipped when nothing was written above it (a bottom-posted one, as mutt writes)."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if any(pattern.match(line) for pattern in ATTRIBUTIONS):
            if lines:
                break
            continue
        if any(pattern.match(line) for pattern in QUOTE_STARTS):
            break
        if line.startswith(">"):
            continue
        if line or lines:
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return lines
