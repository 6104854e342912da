"""The pipeline: one mail, its outcome for every source and the incident changes, one commit."""

from __future__ import annotations

import json
from dataclasses import astuple, dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert
from sqlmodel import select

from app.core.incidents.heartbeats import HEARTBEAT_ACTOR, HEARTBEAT_KEY
from app.core.incidents.lifecycle import (
    IS_OPEN,
    NewIncident,
    append_mail,
    open_incident,
    resolve_by_mail,
    thread_reply,
)
from app.core.incidents.silences import ActiveSilences, Covering
from app.core.intake.mail import ParsedMail, parse_mail, storable
from app.core.intake.outcomes import decide, loop_reason
from app.core.intake.rules import subject_key
from app.core.intake.sources import SourceSpec, spec_from_row
from app.core.notifications.org import ORG
from app.core.notifications.replies import (
    ReplyOutcome,
    answer_reply,
    is_reply_recipient,
    reply_pattern,
)
from app.core.notifications.routing import Routing, sent_by_us
from app.core.store.db import (
    Clock,
    Database,
    is_retryable,
    needs_new_transaction,
    utc_now,
)
from app.core.store.models import AlertSource, Incident, Mail, MailOutcome

SOURCES = AlertSource.__table__  # type: ignore[attr-defined]
MAILS = Mail.__table__  # type: ignore[attr-defined]
INCIDENTS = Incident.__table__  # type: ignore[attr-defined]
OUTCOMES = MailOutcome.__table__  # type: ignore[attr-defined]
RETRIES = 3  # a mail that conflicts with another listener's, redone at most this often
# Built once: constructing a statement costs more than SQLite takes to run it.
INSERT_MAIL = insert(MAILS)
INSERT_OUTCOME = insert(OUTCOMES)
SOURCES_FOR = (
    select(SOURCES)
    .where(
        SOURCES.c.address.in_(bindparam("addresses", expanding=True)),
        SOURCES.c.enabled.is_(True),
    )
    .order_by(SOURCES.c.name)
)
_OF_SOURCE = select(INCIDENTS.c.id).where(INCIDENTS.c.source_id == bindparam("source"))
_NEWEST = (INCIDENTS.c.updated_at.desc(), INCIDENTS.c.id.desc())
OPEN_WITH_KEY = _OF_SOURCE.where(INCIDENTS.c.key == bindparam("key"), IS_OPEN)
OPEN_WITH_SUBJECT = (
    _OF_SOURCE.where(INCIDENTS.c.subject_key == bindparam("subject_key"), IS_OPEN)
    .order_by(*_NEWEST)
    .limit(1)
)
NEWEST_PENDING = _OF_SOURCE.where(INCIDENTS.c.state == "pending").order_by(*_NEWEST).limit(1)
NEWEST_OPEN = _OF_SOURCE.where(IS_OPEN).order_by(*_NEWEST).limit(1)
# Two steps, both indexed: the earlier mails with the same bytes (almost always none), then
# their outcome for the source. One join lets SQLite walk every outcome of the source.
EARLIER_SAME_BYTES = select(MAILS.c.id).where(
    MAILS.c.raw_sha256 == bindparam("sha"),
    MAILS.c.message_id == bindparam("message_id"),
)
EARLIER_SAME_BYTES_WITHOUT_ID = select(MAILS.c.id).where(
    MAILS.c.raw_sha256 == bindparam("sha"), MAILS.c.message_id.is_(None)
)
FIRST_OUTCOME_OF = (
    select(OUTCOMES.c.mail_id, OUTCOMES.c.incident_id)
    .where(
        OUTCOMES.c.source_id == bindparam("source"),
        OUTCOMES.c.mail_id.in_(bindparam("mails", expanding=True)),
        OUTCOMES.c.outcome != "duplicate",
    )
    .order_by(OUTCOMES.c.id)
    .limit(1)
)
# A reply's In-Reply-To/References against the source's stored mails in an incident (§13):
# through mail.message_id's index, then the few outcomes of those mails.
INCIDENT_OF_MAILS = (
    select(OUTCOMES.c.mail_id, OUTCOMES.c.incident_id)
    .join(MAILS, MAILS.c.id == OUTCOMES.c.mail_id)
    .where(
        MAILS.c.message_id.in_(bindparam("message_ids", expanding=True)),
        OUTCOMES.c.source_id == bindparam("source"),
        OUTCOMES.c.incident_id.is_not(None),
        OUTCOMES.c.outcome != "duplicate",
    )
    .order_by(OUTCOMES.c.mail_id.desc())
    .limit(1)
)
# Taken before a lookup that no constraint guards (per_subject, single_pending, single_open):
# two listeners creating for one source take turns. by_key has its unique index instead.
LOCK_SOURCE = select(SOURCES.c.id).where(SOURCES.c.id == bindparam("source")).with_for_update()


@dataclass(frozen=True)
class SourceOutcome:
    source: str
    outcome: str
    incident_id: int | None
    reason: str


@dataclass(frozen=True)
class IngestResult:
    mail_id: int | None  # None: no enabled source for any recipient, nothing stored
    outcomes: tuple[SourceOutcome, ...]

    @property
    def stored(self) -> bool:
        return self.mail_id is not None


REPLY_ADDRESS = select(ORG.c.reply_address).where(ORG.c.id == 1)
REPLIES = "(replies)"  # the SourceOutcome.source of a reply to a notification (§15)


def all_enabled_addresses(database: Database) -> set[str]:
    """Every enabled source's address, lower-cased, and `local+*@domain` for the reply
    address when one is set (§15): what the listener accepts at RCPT."""
    with database.read() as session:
        query = select(AlertSource.address).where(AlertSource.enabled == True)  # noqa: E712
        addresses = set(session.exec(query).all())
        reply_address = session.connection().execute(REPLY_ADDRESS).scalar()
    if reply_address:
        addresses.add(reply_pattern(reply_address))
    return addresses


@dataclass(frozen=True)
class IncomingMail:
    """One mail to store: its bytes, envelope and (parsed beforehand, off the writer) fields."""

    raw: bytes
    recipients: tuple[str, ...]
    via: str
    envelope_from: str | None = None
    parsed: ParsedMail | None = None


def ingest_mail(
    database: Database,
    raw: bytes,
    recipients: list[str],
    *,
    via: str,
    envelope_from: str | None = None,
    clock: Clock = utc_now,
    parsed: ParsedMail | None = None,
) -> IngestResult:
    """Store the mail and apply every matching source's rules, all in one transaction.

    Returns only after the commit (SQLite synchronous=FULL): a caller may then say 250.
    """
    incoming = IncomingMail(raw, tuple(recipients), via, envelope_from, parsed)
    [result] = ingest_batch(database, [incoming], clock=clock)
    if isinstance(result, Exception):
        raise result
    return result


def ingest_batch(
    database: Database, batch: list[IncomingMail], *, clock: Clock = utc_now
) -> list[IngestResult | Exception]:
    """Group commit: every mail in one transaction.

    The batch runs in one savepoint; if any mail fails, it is redone with a savepoint per
    mail, so a mail whose processing fails is rolled back alone and its slot holds the
    exception, while the others commit together. Returns only after the commit.
    """
    for attempt in range(1, RETRIES + 1):
        try:
            return _ingest_in_one_transaction(database, batch, clock)
        except _RedoTransaction as redo:  # rolled back whole: nothing of it was stored
            if attempt == RETRIES:
                return [redo.error] * len(batch)
    raise AssertionError("unreachable")


class _RedoTransaction(Exception):
    """A deadlock with another listener while this transaction holds earlier mails' rows."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _ingest_in_one_transaction(
    database: Database, batch: list[IncomingMail], clock: Clock
) -> list[IngestResult | Exception]:
    try:  # the usual case: every mail stores cleanly, no savepoint (two statements fewer)
        with database.write() as session:
            connection = session.connection()
            reads = BatchReads(connection)
            try:
                return [_store(connection, incoming, clock(), reads) for incoming in batch]
            except Exception as error:  # noqa: BLE001 - rolled back whole, redone below
                raise _BatchFailed from error
    except _BatchFailed:  # (a failing commit is not redone: every mail of it gets 451)
        pass
    with database.write() as session:  # again, one savepoint per mail
        connection = session.connection()
        return [_store_alone(connection, incoming, clock) for incoming in batch]


class _BatchFailed(Exception):
    """A mail of the batch failed: the whole transaction is rolled back and redone."""


def _store_alone(
    connection: Connection, incoming: IncomingMail, clock: Clock
) -> IngestResult | Exception:
    """One mail in its own savepoint. A conflict with another listener (PostgreSQL: the
    same mail, or an incident of the same key, stored meanwhile) is redone, and the redo
    sees what the other committed; a deadlock redoes the whole transaction, which alone
    lets go of the rows the other listener waits for; any other failure is this mail's
    alone: 451."""
    for attempt in range(1, RETRIES + 1):
        try:
            with connection.begin_nested():
                return _store(connection, incoming, clock(), BatchReads(connection))
        except Exception as error:  # noqa: BLE001 - this mail only: the caller says 451
            if needs_new_transaction(error):
                raise _RedoTransaction(error) from error
            if attempt == RETRIES or not is_retryable(error):
                return error
    raise AssertionError("unreachable")


def _store(
    connection: Connection, incoming: IncomingMail, now: datetime, reads: BatchReads
) -> IngestResult:
    # The hot path speaks SQLAlchemy Core, not ORM objects: a few statements per mail.
    parsed = incoming.parsed or parse_mail(incoming.raw)
    lowered = sorted({storable(address.lower()) for address in incoming.recipients})
    rows = reads.sources_for(lowered)
    replies = [address for address in lowered if is_reply_recipient(address, reads.reply_address)]
    if not rows and not replies:
        return IngestResult(None, ())
    earlier = earlier_copies(connection, parsed)
    first_copy = None if earlier else parsed.sha256
    mail_id = connection.execute(
        INSERT_MAIL,
        dict(
            received_at=now,
            via=incoming.via,
            envelope_from=incoming.envelope_from and storable(incoming.envelope_from[:320]),
            envelope_to=lowered,
            message_id=parsed.message_id,
            raw_sha256=parsed.sha256,
            first_copy_sha256=first_copy,
            size=parsed.size,
            subject=parsed.title,  # what the mail log lists; the mail itself shows it whole
            from_header=parsed.from_,
            defects=list(parsed.defects),
            body_text=parsed.body,  # already storable: NUL shown as ␀ (PostgreSQL's text holds none)
            raw=incoming.raw,
        ),
    ).inserted_primary_key[0]
    outcomes = []
    if replies:  # to the reply address: it acts on the incident its token names, if allowed
        outcome = _earlier_reply(connection, earlier) or _answered(
            connection, parsed, replies[0], incoming.envelope_from, now, mail_id
        )
        connection.execute(
            INSERT_OUTCOME,
            dict(mail_id=mail_id, source_id=None, outcome=outcome.outcome,
                 incident_id=outcome.incident_id, reason=outcome.reason),
        )  # fmt: skip
        outcomes.append(SourceOutcome(REPLIES, *astuple(outcome)))
    store = SqlIncidentStore(connection, reads)
    for row in rows:
        spec = compiled_spec(row)
        store.silence = reads.silences(now).covering(row.id, parsed.subject)
        # Without severity rules every mail has the source's severity, which the incident
        # already has or passed: nothing can raise it, and no lookup is spent on it.
        store.severity = spec.severity_for(parsed) if spec.severity_rules else None
        outcome, incident_id, reason = decide(store, spec, mail_id, parsed, earlier, now)
        if row.heartbeat_minutes and outcome != "rejected":
            store.end_heartbeat(row.id, mail_id, now)  # the source is heard from again
        connection.execute(
            INSERT_OUTCOME,
            dict(
                mail_id=mail_id,
                source_id=row.id,
                outcome=outcome,
                incident_id=incident_id,
                reason=reason,
                silenced_by=store.silence.id if store.silence else None,
            ),
        )
        outcomes.append(SourceOutcome(spec.name, outcome, incident_id, reason))
    return IngestResult(mail_id, tuple(outcomes))


def _earlier_reply(connection, earlier: list[int]) -> ReplyOutcome | None:
    """A reply delivered again (the sender never saw our 250) acts once: `duplicate`."""
    if not earlier:
        return None
    first = connection.execute(
        select(OUTCOMES.c.mail_id, OUTCOMES.c.incident_id)
        .where(OUTCOMES.c.mail_id.in_(earlier), OUTCOMES.c.source_id.is_(None))
        .order_by(OUTCOMES.c.id)
        .limit(1)
    ).first()
    if first is None:
        return None
    return ReplyOutcome("duplicate", first.incident_id, f"already received as mail {first.mail_id}")


def _answered(connection, parsed, recipient, envelope_from, now, mail_id):
    """A reply to a notification; an automatic one (out of office) is a loop, never an act."""
    automatic = loop_reason(parsed)
    if automatic:
        return ReplyOutcome("loop", None, automatic)
    return answer_reply(connection, parsed, recipient, envelope_from, now, mail_id)


_compiled_sources: dict[str, SourceSpec] = {}


def compiled_spec(row: AlertSource) -> SourceSpec:
    """A source's rules compiled once per content: the row itself is the key, since two saves
    can share an `updated_at` (a coarse or injected clock) and ids repeat across databases."""
    key = json.dumps(dict(row._mapping), sort_keys=True, default=str)  # type: ignore[attr-defined]
    spec = _compiled_sources.get(key)
    if spec is None:
        if len(_compiled_sources) > 1024:
            _compiled_sources.clear()
        spec = _compiled_sources[key] = spec_from_row(row)
    return spec


def earlier_copies(connection: Connection, parsed: ParsedMail) -> list[int]:
    """The mails stored before with the same bytes and Message-ID (a redelivery)."""
    if parsed.message_id is None:
        query, parameters = EARLIER_SAME_BYTES_WITHOUT_ID, {"sha": parsed.sha256}
    else:
        query = EARLIER_SAME_BYTES
        parameters = {"sha": parsed.sha256, "message_id": parsed.message_id}
    return list(connection.execute(query, parameters).scalars())


class BatchReads:
    """What one transaction reads once for all its mails: the sources of each set of
    recipients, the routing (on its first event only: most mails change no incident), and
    the source rows it has locked (PostgreSQL)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._routing: Routing | None = None
        self._silences: ActiveSilences | None = None
        self._reply_address: str | None | bool = False  # False: not read yet
        self.sources: dict[tuple[str, ...], list] = {}
        # SQLite's writers already take turns (BEGIN IMMEDIATE): no row lock to take there.
        self.locks_rows = connection.dialect.name != "sqlite"
        self.locked_sources: set[int] = set()

    def take_turn(self, source_id: int) -> None:
        """Lock the source's row once per transaction, before a lookup no constraint guards."""
        if self.locks_rows and source_id not in self.locked_sources:
            self.connection.execute(LOCK_SOURCE, {"source": source_id})
            self.locked_sources.add(source_id)

    def sources_for(self, addresses: list[str]) -> list:
        key = tuple(addresses)
        if key not in self.sources:
            self.sources[key] = self.connection.execute(SOURCES_FOR, {"addresses": addresses}).all()
        return self.sources[key]

    def routing(self) -> Routing:
        if self._routing is None:
            self._routing = Routing.read(self.connection)
        return self._routing

    @property
    def reply_address(self) -> str | None:
        """The organization's reply address (§15), read once per batch."""
        if self._reply_address is False:
            self._reply_address = self.connection.execute(REPLY_ADDRESS).scalar()
        return self._reply_address  # type: ignore[return-value]

    def silences(self, now: datetime) -> ActiveSilences:
        """The silences active at the batch's first mail (a batch lasts milliseconds)."""
        if self._silences is None:
            self._silences = ActiveSilences(self.connection, now)
        return self._silences


class SqlIncidentStore:
    """The IncidentStore of ingest: its lookups on the batch's connection; its writes are
    the lifecycle's."""

    def __init__(self, connection: Connection, reads: BatchReads) -> None:
        self.connection = connection
        self.reads = reads
        # The mail being decided: the silence covering it, and its severity (§12).
        self.silence: Covering | None = None
        self.severity: str | None = None

    def end_heartbeat(self, source_id: int, mail_id: int, now: datetime) -> None:
        """Mail from a source with a heartbeat: its open heartbeat incident is resolved."""
        incident_id = self.open_with_key(source_id, HEARTBEAT_KEY)
        if incident_id is not None:
            resolve_by_mail(
                self.connection, incident_id, mail_id, now, self.reads.routing(),
                silence=self.silence, actor=HEARTBEAT_ACTOR,
                why=f"mail {mail_id} arrived: the source is heard from again",
            )  # fmt: skip

    def first_outcome(self, source_id, earlier):
        parameters = {"source": source_id, "mails": list(earlier)}
        return self.connection.execute(FIRST_OUTCOME_OF, parameters).first()

    def open_with_key(self, source_id, key):
        return self.connection.execute(OPEN_WITH_KEY, {"source": source_id, "key": key}).scalar()

    def open_with_subject(self, source_id, subject):
        self.reads.take_turn(source_id)
        parameters = {"source": source_id, "subject_key": subject}
        return self.connection.execute(OPEN_WITH_SUBJECT, parameters).scalar()

    def newest_pending(self, source_id):
        self.reads.take_turn(source_id)
        return self.connection.execute(NEWEST_PENDING, {"source": source_id}).scalar()

    def newest_open(self, source_id):
        self.reads.take_turn(source_id)
        return self.connection.execute(NEWEST_OPEN, {"source": source_id}).scalar()

    def sent_by_us(self, message_ids):
        return sent_by_us(self.connection, message_ids)

    def incident_of_mails(self, source_id, message_ids):
        parameters = {"source": source_id, "message_ids": list(message_ids)}
        return self.connection.execute(INCIDENT_OF_MAILS, parameters).first()

    def thread(self, incident_id, mail_id, now):
        thread_reply(self.connection, incident_id, mail_id, now)

    def append(self, incident_id, mail_id, now):
        append_mail(
            self.connection, incident_id, mail_id, now, self.reads.routing(),
            severity=self.severity, silence=self.silence,
        )  # fmt: skip

    def resolve(self, incident_id, mail_id, now):
        resolve_by_mail(
            self.connection, incident_id, mail_id, now, self.reads.routing(),
            silence=self.silence,
        )  # fmt: skip

    def create(self, spec, parsed, key, mail_id, now):
        new = NewIncident(
            source_id=spec.id, severity=self.severity or spec.severity,
            title=spec.title_for(parsed) or parsed.title or "(no subject)",
            key=key, subject_key=subject_key(parsed.subject),
            escalation_policy=spec.escalation_policy,
        )  # fmt: skip
        return open_incident(
            self.connection, new, mail_id, now, self.reads.routing(), silence=self.silence
        )
