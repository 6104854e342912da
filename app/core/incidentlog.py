"""The incident log as the TUI pages it: filters, a window of rows, counts, a change token."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import col, select

from app.core.db import Database
from app.core.incidents import (
    IncidentError,
    IncidentView,
    incident_view,
    iso_utc,
    state_condition,
)
from app.core.mail import parse_mail
from app.core.models import AlertSource, Incident, Mail, MailOutcome, TimelineEvent
from app.core.names import INCIDENT_STATES, OPEN_STATES
from app.core.rules import extract_key
from app.core.sources import spec_from_row

# Every incident change writes a timeline event, so its highest id tells that one happened.
CHANGE_TOKEN = select(func.max(TimelineEvent.id))


@dataclass(frozen=True)
class LogFilter:
    """What the operator narrowed the log to. `text` matches title, key or source name."""

    state: str = "open"
    source: str | None = None
    severity: str | None = None
    text: str = ""

    def describe(self) -> str:
        parts = [self.state if self.state != "all" else "every state"]
        parts += [f"source {self.source}"] if self.source else []
        parts += [f"severity {self.severity}"] if self.severity else []
        parts += [f"text “{self.text}”"] if self.text else []
        return ", ".join(parts)

    def with_changes(self, **changes) -> LogFilter:
        return replace(self, **changes)


@dataclass(frozen=True)
class LogWindow:
    """A window of the filtered log, newest first, and what the header shows."""

    rows: tuple[IncidentView, ...]
    offset: int  # index of rows[0] in the whole filtered log
    total: int  # rows matching the filter
    counts: dict[str, int]  # per state, under the filter's source, severity and text
    changed_since: int  # rows under the filter updated after the `seen` mark
    token: ChangeToken  # the change token this window was read at
    sources: tuple[str, ...] = field(default=())


# (writes committed, as PostgreSQL told us; the newest timeline event): a change of either
# means the log may have changed. Every incident change writes a timeline event; on
# PostgreSQL a lower event id can commit after a higher one, which the first part catches.
ChangeToken = tuple[int, int]


def change_token(database: Database) -> ChangeToken:
    """Changes whenever any incident changes, whichever process or host changed it."""
    committed = database.change_count()  # first: a commit after this shows next time
    with database.read() as session:
        return committed, session.exec(CHANGE_TOKEN).one() or 0


def _narrowed(query, log_filter: LogFilter, *, sqlite: bool, with_state: bool = True):
    condition = state_condition(log_filter.state)
    if with_state and condition is not None:
        query = query.where(condition)
    if log_filter.source:
        query = query.where(AlertSource.name == log_filter.source)
    if log_filter.severity:
        query = query.where(Incident.severity == log_filter.severity)
    text = log_filter.text.strip()
    if text:
        query = query.where(
            or_(
                *(
                    _contains(column, text, sqlite=sqlite)
                    for column in (Incident.title, Incident.key, AlertSource.name)
                )
            )
        )
    return query


def _contains(column, text: str, *, sqlite: bool):
    """Case-insensitive substring, with % and _ taken literally.

    SQLite's LIKE already ignores ASCII case (its lower() knows no more than ASCII), so
    plain LIKE there spares a lower() per row and column; elsewhere ILIKE.
    """
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    pattern = f"%{escaped}%"
    if sqlite:
        return col(column).like(pattern, escape="/")
    return col(column).ilike(pattern, escape="/")


def _joined(*columns):
    return (
        select(*columns)
        .select_from(Incident)
        .join(AlertSource, col(AlertSource.id) == Incident.source_id)
    )


def read_window(
    database: Database,
    log_filter: LogFilter,
    *,
    offset: int,
    limit: int,
    seen_at: datetime | None = None,
) -> LogWindow:
    """Rows [offset, offset+limit) of the filtered log, newest first, in one read."""
    sqlite = database.is_sqlite
    committed = database.change_count()
    with database.read() as session:
        token = committed, session.exec(CHANGE_TOKEN).one() or 0
        by_state = _narrowed(
            _joined(Incident.state, func.count()), log_filter, sqlite=sqlite, with_state=False
        ).group_by(Incident.state)
        counts = {state: 0 for state in INCIDENT_STATES} | dict(session.exec(by_state).all())
        wanted = {"open": OPEN_STATES, "all": INCIDENT_STATES}.get(
            log_filter.state, (log_filter.state,)
        )
        total = sum(counts[state] for state in wanted)
        offset = max(0, min(offset, max(0, total - limit)))
        rows = session.exec(
            _narrowed(_joined(Incident, AlertSource.name), log_filter, sqlite=sqlite)
            .order_by(col(Incident.id).desc())
            .offset(offset)
            .limit(limit)
        ).all()
        changed = 0
        if seen_at is not None:
            newer = _narrowed(_joined(func.count()), log_filter, sqlite=sqlite).where(
                col(Incident.updated_at) > seen_at
            )
            changed = session.exec(newer).one()
        sources = tuple(session.exec(select(AlertSource.name).order_by(AlertSource.name)).all())
    return LogWindow(
        rows=tuple(incident_view(incident, name) for incident, name in rows),
        offset=offset,
        total=total,
        counts=counts,
        changed_since=changed,
        token=token,
        sources=sources,
    )


def position_of(database: Database, log_filter: LogFilter, incident_id: int) -> int | None:
    """Where the incident stands in the filtered log (0 = newest), or None if filtered out."""
    sqlite = database.is_sqlite
    with database.read() as session:
        present = session.exec(
            _narrowed(_joined(func.count()), log_filter, sqlite=sqlite).where(
                Incident.id == incident_id
            )
        ).one()
        if not present:
            return None
        return session.exec(
            _narrowed(_joined(func.count()), log_filter, sqlite=sqlite).where(
                col(Incident.id) > incident_id
            )
        ).one()


@dataclass(frozen=True)
class MailDetail:
    """One mail as the detail screen shows it."""

    id: int
    received_at: str
    via: str
    envelope_from: str | None
    envelope_to: tuple[str, ...]
    subject: str
    from_: str
    to: str
    date: str
    message_id: str | None
    text: str  # the text rules matched against (decoded; HTML made readable)
    defects: tuple[str, ...]
    outcome: str
    reason: str
    raw: str  # the source as received, undecodable bytes replaced


__all__ = ["IncidentView", "LogFilter", "LogWindow", "MailDetail"]


def incident_mails(database: Database, incident_id: int) -> list[MailDetail]:
    """Every mail of the incident, oldest first, parsed for reading."""
    query = (
        select(Mail, MailOutcome.outcome, MailOutcome.reason)
        .join(MailOutcome, col(MailOutcome.mail_id) == Mail.id)
        .where(MailOutcome.incident_id == incident_id)
        .order_by(col(Mail.id))
    )
    with database.read() as session:
        rows = session.exec(query).all()
    return [mail_detail_of(mail, outcome, reason) for mail, outcome, reason in rows]


def source_mail(database: Database, mail_id: int, source: str) -> MailDetail:
    """One mail as the source's mail log opens it, with what it did for that source."""
    query = (
        select(Mail, MailOutcome.outcome, MailOutcome.reason)
        .join(MailOutcome, col(MailOutcome.mail_id) == Mail.id)
        .join(AlertSource, col(AlertSource.id) == MailOutcome.source_id)
        .where(Mail.id == mail_id, AlertSource.name == source)
    )
    with database.read() as session:
        row = session.exec(query).first()
    if row is None:
        raise IncidentError(f"no mail {mail_id} for the source {source!r}")
    return mail_detail_of(*row)


def count_mails(database: Database, *, source: str, outcome: str | None = None) -> int:
    """How many mails the source's mail log holds (under the outcome filter)."""
    query = (
        select(func.count())
        .select_from(MailOutcome)
        .join(AlertSource, col(AlertSource.id) == MailOutcome.source_id)
        .where(AlertSource.name == source)
    )
    if outcome:
        query = query.where(MailOutcome.outcome == outcome)
    with database.read() as session:
        return session.exec(query).one()


def mail_detail_of(mail: Mail, outcome: str, reason: str) -> MailDetail:
    parsed = parse_mail(mail.raw)
    return MailDetail(
        id=mail.id,  # type: ignore[arg-type]
        received_at=iso_utc(mail.received_at),  # type: ignore[arg-type]
        via=mail.via,
        envelope_from=mail.envelope_from,
        envelope_to=tuple(mail.envelope_to),
        subject=parsed.subject,
        from_=parsed.from_,
        to=parsed.to,
        date=parsed.header("date"),
        message_id=parsed.message_id,
        text=parsed.body,
        defects=tuple(mail.defects),
        outcome=outcome,
        reason=reason,
        raw=mail.raw.decode("utf-8", "replace"),
    )


def key_explanation(database: Database, incident_id: int) -> str:
    """Which of the source's key rules gives the incident its key, on its first mail."""
    with database.read() as session:
        row = session.exec(
            select(Incident, AlertSource)
            .join(AlertSource, col(AlertSource.id) == Incident.source_id)
            .where(Incident.id == incident_id)
        ).first()
        if row is None:
            raise IncidentError(f"no incident #{incident_id}")
        incident, source = row
        first = session.exec(
            select(Mail.raw)
            .join(MailOutcome, col(MailOutcome.mail_id) == Mail.id)
            .where(MailOutcome.incident_id == incident_id)
            .order_by(col(Mail.id))
            .limit(1)
        ).first()
        spec = spec_from_row(source)
    if spec.creation != "by_key":
        return f"{spec.creation}: this source groups mails without a key"
    if incident.key is None:
        return "no key (on_no_key = new)"
    if first is None:
        return f"key {incident.key!r}"
    extracted = extract_key(spec.key_rules, parse_mail(first))
    if extracted is not None and extracted[0] == incident.key:
        return f"key {incident.key!r} from the rule: {extracted[1].describe()}"
    if extracted is None:
        return f"key {incident.key!r} from the subject (no key rule matches: on_no_key = subject)"
    return f"key {incident.key!r} (the source's rules have changed since)"
