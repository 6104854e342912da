"""The outbox's retry state machine: claims and leases on due rows, backoff, attempt results."""

from __future__ import annotations

import logging
import os
import re
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import getaddresses

from sqlalchemy import Connection, Row, and_, func, insert, or_, select, update

from app.core.store.db import Clock, Database, as_utc, utc_now
from app.core.store.models import Delivery, DeliveryAttempt

log = logging.getLogger("mailsiren.dispatch")

RETRY_FOR = timedelta(hours=24)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
BATCH = 500  # due rows claimed per run
LEASE = timedelta(minutes=5)  # a claim's life; renewed when half of it has gone
DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]
ATTEMPTS = DeliveryAttempt.__table__  # type: ignore[attr-defined]
WAITING = DELIVERIES.c.status.in_(("queued", "retrying"))
DUE = select(DELIVERIES).where(WAITING, DELIVERIES.c.held_until.is_(None)).order_by(DELIVERIES.c.id)
RELEASED = select(DELIVERIES).where(WAITING, DELIVERIES.c.held_until.is_not(None))

# An attempt's outcome, as delivery_attempt.outcome stores it.
SENT = "sent"
TEMPORARY = "temporary"
PERMANENT = "permanent"


def default_node() -> str:
    """Who claims rows when nobody says: this host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def backoff(attempts: int) -> timedelta:
    """30 s after the first failure, doubling, at most an hour between tries."""
    # The exponent is capped: 30 s × 2**7 is past the hour already, and 2**42 seconds would
    # overflow a timedelta.
    return min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 7), LONGEST_WAIT)


def unclaimed(now: datetime):
    """Rows no dispatcher holds at `now`: never claimed, or the claim's lease ran out."""
    return or_(DELIVERIES.c.claimed_until.is_(None), DELIVERIES.c.claimed_until < now)


@dataclass(frozen=True)
class Outgoing:
    """One mail to send; a storm summary carries several deliveries."""

    ids: tuple[int, ...]
    address: str
    owner_id: int | None
    message: EmailMessage
    created_at: datetime
    attempts: int


@dataclass(frozen=True)
class AttemptResult:
    """How one try went: SENT, TEMPORARY or PERMANENT, where, the reply, advice for a person."""

    outcome: str
    stage: str
    reply: str
    hint: str = ""


class Outbox:
    """The delivery rows one dispatcher works on, and what each attempt does to them.

    Several dispatchers may share one database (a team's serve processes on PostgreSQL): a
    run first claims its rows (FOR UPDATE SKIP LOCKED, then a lease written on the rows), so
    that one row is sent by one dispatcher. The lease is renewed while the run goes on; a
    dispatcher that died loses its rows when the lease runs out, or at once when its node
    starts again. A temporary failure is retried with exponential backoff for up to 24 hours
    after the row was queued; a permanent one fails the delivery at once.
    """

    def __init__(self, database: Database, *, node: str, clock: Clock = utc_now) -> None:
        self.database = database
        self.node = node
        self.clock = clock
        self.claim: str | None = None  # the current run's claim on its rows
        self.lease_until: datetime | None = None

    # Claims -------------------------------------------------------------------------

    def release_own_claims(self) -> int:
        """At start: the rows this node claimed before (it died mid-run) are free again."""
        with self.database.write() as session:
            return session.execute(
                update(DELIVERIES)
                .where(
                    WAITING, DELIVERIES.c.claimed_by.startswith(f"{self.node}/", autoescape=True)
                )
                .values(claimed_by=None, claimed_until=None)
            ).rowcount

    def claim_due(self, now: datetime) -> bool:
        """Claim the due and released rows no other dispatcher holds: True if any."""
        claim = f"{self.node}/{uuid.uuid4().hex}"
        due = and_(DELIVERIES.c.held_until.is_(None), DELIVERIES.c.next_attempt_at <= now)
        released = DELIVERIES.c.held_until <= now  # storm control's window has closed
        with self.database.write() as session:
            connection = session.connection()
            ids = (
                connection.execute(
                    select(DELIVERIES.c.id)
                    .where(WAITING, unclaimed(now), or_(due, released))
                    .order_by(DELIVERIES.c.id)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
                .scalars()
                .all()
            )
            if ids:
                connection.execute(
                    update(DELIVERIES)
                    .where(DELIVERIES.c.id.in_(ids))
                    .values(claimed_by=claim, claimed_until=now + LEASE)
                )
        self.claim, self.lease_until = (claim, now + LEASE) if ids else (None, None)
        return bool(ids)

    def claimed_rows(self, connection: Connection) -> tuple[Sequence[Row], Sequence[Row]]:
        """This run's rows: those due now, and those storm control held whose window closed."""
        ours = DELIVERIES.c.claimed_by == self.claim
        return (
            connection.execute(DUE.where(ours)).all(),
            connection.execute(RELEASED.where(ours)).all(),
        )

    def keep_claim(self) -> None:
        """Renew the lease once half of it has gone: a long run keeps its rows."""
        now = self.clock()
        if self.claim is None or self.lease_until is None or now < self.lease_until - LEASE / 2:
            return
        with self.database.write() as session:
            session.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.claimed_by == self.claim)
                .values(claimed_until=now + LEASE)
            )
        self.lease_until = now + LEASE

    def release_claim(self) -> None:
        """The run is over: what it did not record (held back, or a failed run) is free."""
        if self.claim is None:
            return
        with self.database.write() as session:
            session.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.claimed_by == self.claim)
                .values(claimed_by=None, claimed_until=None)
            )
        self.claim = self.lease_until = None

    # What is due ---------------------------------------------------------------------

    def next_wakeup(self) -> datetime | None:
        """The earliest moment a waiting delivery becomes due (retry or storm window)."""
        with self.database.read() as session:
            row = session.execute(
                select(
                    func.min(DELIVERIES.c.next_attempt_at).filter(
                        DELIVERIES.c.held_until.is_(None)
                    ),
                    func.min(DELIVERIES.c.held_until),
                ).where(WAITING, unclaimed(self.clock()))
            ).first()
        moments = [as_utc(moment) for moment in row or () if moment is not None]
        return min(moments) if moments else None

    # Recording ----------------------------------------------------------------------

    def record(self, results: list[tuple[Outgoing, AttemptResult]]) -> None:
        """One transaction: the attempt rows and each delivery's new status (and claim freed).

        The hint stored is the result's: it was worked out once, where the failure was met."""
        now = self.clock()
        results = [(mail, without_addresses(mail, result)) for mail, result in results]
        with self.database.write() as session:
            connection = session.connection()
            for mail, result in results:
                values = _after_attempt(mail, result, now)
                for delivery_id in mail.ids:
                    connection.execute(
                        update(DELIVERIES).where(DELIVERIES.c.id == delivery_id).values(**values)
                    )
                    connection.execute(
                        insert(ATTEMPTS).values(
                            delivery_id=delivery_id, at=now, outcome=result.outcome,
                            stage=result.stage, reply=result.reply[:2000],
                        )
                    )  # fmt: skip
        for mail, result in results:
            if result.outcome != SENT:
                log.warning("delivery %s: %s (%s)", mail.ids, result.reply, result.outcome)


def without_addresses(mail: Outgoing, result: AttemptResult) -> AttemptResult:
    """The result with the mail's own addresses taken out of the server's reply.

    Replies often repeat them (`550 5.1.1 <bob@example.com>: unknown user`); stored or
    logged in the clear, that would undo their encryption. The delivery row keeps the
    recipient, encrypted; the reply says `recipient` and `sender` instead.
    """
    reply = result.reply
    senders = [address for _, address in getaddresses(mail.message.get_all("From", []))]
    for address, said in ((mail.address, "recipient"), *((sender, "sender") for sender in senders)):
        if address:
            reply = re.sub(re.escape(address), said, reply, flags=re.IGNORECASE)
    return result if reply == result.reply else replace(result, reply=reply)


def _after_attempt(mail: Outgoing, result: AttemptResult, now: datetime) -> dict:
    """A delivery's new column values after an attempt: sent, failed, or retrying when."""
    attempts = mail.attempts + 1
    values: dict = {"attempts": attempts, "last_reply": result.reply[:2000], "hint": result.hint}
    values.update(claimed_by=None, claimed_until=None)
    if result.outcome == SENT:
        values.update(
            status="sent",
            sent_at=now,
            held_until=None,
            hint="",
            message_id=mail.message["Message-ID"],
        )
    elif result.outcome == PERMANENT:
        values.update(status="failed", held_until=None)
    else:
        wait = backoff(attempts)
        if now + wait > as_utc(mail.created_at) + RETRY_FOR:
            values.update(
                status="failed",
                held_until=None,
                last_reply=f"gave up after 24 h of retries; last reply: {result.reply}"[:2000],
            )
        else:
            values.update(status="retrying", next_attempt_at=now + wait)
            if len(mail.ids) > 1:  # a summary retries as a summary
                values["held_until"] = now + wait
    return values
