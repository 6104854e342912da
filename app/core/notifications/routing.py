"""Incident events → recipients → outbox rows, written in the event's own transaction."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import make_msgid
from functools import cache

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from app.core.notifications.digests import period_end
from app.core.notifications.integrations import describe_level, level_matches
from app.core.notifications.org import read_org
from app.core.store.models import Delivery, Incident, Integration
from app.core.store.secrets import keyring_of, normalise_address

DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]
INTEGRATIONS = Integration.__table__  # type: ignore[attr-defined]
ENABLED_INTEGRATIONS = select(
    INTEGRATIONS.c.address, INTEGRATIONS.c.level, INTEGRATIONS.c.and_above,
    INTEGRATIONS.c.owner_id, INTEGRATIONS.c.frequency, INTEGRATIONS.c.digest_at,
).where(INTEGRATIONS.c.enabled.is_(True)).order_by(INTEGRATIONS.c.id)  # fmt: skip
SEVERITY_OF = select(Incident.severity).where(Incident.id == bindparam("incident"))
OURS = (
    select(DELIVERIES.c.id)
    .where(DELIVERIES.c.message_id.in_(bindparam("ids", expanding=True)))
    .limit(1)
)
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")  # a fixed pattern of ours, never a user's


@dataclass(frozen=True)
class Page:
    """An address an escalation step pages, and whose SMTP configuration sends it."""

    address: str
    owner_id: int | None
    why: str


@cache
def message_id_domain() -> str:
    return f"mailsiren.{socket.gethostname() or 'localhost'}"


@cache
def _insert_ignoring_duplicates(dialect_name: str):
    """INSERT that skips a row whose (event, address) is already queued: the constraint
    holds the rule, this only keeps a second recipient path from failing the transaction.
    Built once per dialect: constructing a statement costs more than running it."""
    dialect = {"sqlite": sqlite, "postgresql": postgresql}.get(dialect_name)
    if dialect is None:
        return insert(DELIVERIES)
    return dialect.insert(DELIVERIES).on_conflict_do_nothing(
        index_elements=["event_id", "address_hash"]
    )


@dataclass(frozen=True)
class Routing:
    """What decides the recipients of an event: notify_on and the enabled integrations.

    Read once per ingest batch (one transaction), not once per mail.
    """

    notify_on: tuple[str, ...]
    # (address, its keyed hash, level, and_above, owner id, (frequency, digest_at) of a digest)
    integrations: tuple[tuple[str, str, str, bool, int | None, tuple | None], ...]

    @classmethod
    def read(cls, connection: Connection) -> Routing:
        org = read_org(connection)
        if not org.notify_on:
            return cls((), ())
        keyring = keyring_of(connection.dialect)
        integrations = []
        for row in connection.execute(ENABLED_INTEGRATIONS):
            address = normalise_address(row.address)
            digest = (row.frequency, row.digest_at) if row.frequency != "instant" else None
            integrations.append(
                (address, keyring.keyed_hash(address), row.level, row.and_above, row.owner_id,
                 digest)
            )  # fmt: skip
        return cls(org.notify_on, tuple(integrations))


def queue_event(
    connection: Connection,
    *,
    incident_id: int,
    event_id: int,
    kind: str,
    now: datetime,
    severity: str | None = None,
    pages: Sequence[Page] = (),
    routing: Routing | None = None,
) -> tuple[str, ...]:
    """Queue one mail per address for the event; returns the addresses queued.

    Nothing is queued when the organization's notify_on leaves the event kind out.
    Recipients: every enabled integration whose level takes the severity, and the pages.
    """
    routing = routing or Routing.read(connection)
    if kind not in routing.notify_on:
        return ()
    if severity is None:
        severity = connection.execute(SEVERITY_OF, {"incident": incident_id}).scalar() or "alert"
    keyring = keyring_of(connection.dialect)
    recipients: dict[str, tuple[str, int | None, str, tuple | None]] = {}
    for address, hashed, level, and_above, owner_id, digest in routing.integrations:
        if level_matches(level, and_above, severity):
            why = f"integration: {describe_level(level, and_above)}"
            if digest is not None:
                why += f" ({digest[0]} digest)"
            recipients.setdefault(hashed, (address, owner_id, why, digest))
    for page in pages:  # a page goes out now, even to an address that also gets a digest
        address = normalise_address(page.address)
        hashed = keyring.keyed_hash(address)
        if hashed not in recipients or recipients[hashed][3] is not None:
            recipients[hashed] = (address, page.owner_id, page.why, None)
    if not recipients:
        return ()
    connection.execute(
        _insert_ignoring_duplicates(connection.dialect.name),
        [
            dict(
                incident_id=incident_id, event_id=event_id, event=kind, address=address,
                address_hash=hashed, owner_id=owner_id, why=why, status="queued",
                attempts=0, created_at=now, next_attempt_at=now,
                message_id=make_msgid("n", domain=message_id_domain()), last_reply="",
                hint=f"in the {digest[0]} digest" if digest else "",
                digest=digest[0] if digest else None,
                held_until=period_end(*digest, now) if digest else None,
            )
            for hashed, (address, owner_id, why, digest) in recipients.items()
        ],
    )  # fmt: skip
    return tuple(address for address, _, _, _ in recipients.values())


def mentioned_message_ids(headers: Iterable[str]) -> list[str]:
    """The <message-id>s in Message-ID, In-Reply-To and References values."""
    found: list[str] = []
    for value in headers:
        found.extend(_MESSAGE_ID.findall(value or ""))
    return found[:50]


def sent_by_us(connection: Connection, message_ids: Sequence[str]) -> bool:
    """True when one of the ids is a notification mailsiren queued or sent.

    Every id mailsiren makes ends in its own domain: others need no query (alert mails).
    """
    suffix = f"@{message_id_domain()}>"
    ours = [message_id for message_id in message_ids if message_id.endswith(suffix)]
    if not ours:
        return False
    return connection.execute(OURS, {"ids": ours}).first() is not None
