"""The incident log as the TUI pages it: filters, a window of rows, counts, a change token."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import and_, case, func, or_
from sqlmodel import col, select

from app.core.incidents.silences import count_active
from app.core.incidents.views import (
    IncidentError,
    IncidentView,
    incident_view,
    iso_utc,
    state_condition,
)
from app.core.intake.mail import parse_mail
from app.core.intake.rules import extract_key
from app.core.intake.sources import spec_from_row
from app.core.names import DELIVERY_STATUSES, INCIDENT_STATES, OPEN_STATES, SEVERITIES
from app.core.store.changes import ChangeToken, database_token
from app.core.store.db import Database, as_utc, utc_now
from app.core.store.models import (
    AlertSource,
    Delivery,
    DeliveryAttempt,
    Incident,
    Mail,
    MailOutcome,
    TimelineEvent,
)

# How the log is ordered: the word the operator sees, and the order's columns. Every order
# ends on the id, newest first, so that each incident has one place in it.
LOG_ORDERS = {
    "newest": "newest first",
    "updated": "most recently updated",
    "severity": "most severe first",
}
SEVERITY_RANK = case(
    *((Incident.severity == name, rank) for rank, name in enumerate(SEVERITIES)),
    else_=len(SEVERITIES),
)


@dataclass(frozen=True)
class LogFilter:
    """What the operator narrowed the log to. `text` matches title, key or source name."""

    state: str = "open"
    source: str | None = None
    severity: str | None = None
    text: str = ""
    order: str = "newest"  # a key of LOG_ORDERS

    def narrows(self) -> bool:
        """True if some incidents may be hidden by this filter (the order hides none)."""
        return replace(self, order="newest") != LogFilter()

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
    counts: dict[str, int]  # per state, in the whole log (the header's real totals)
    changed_since: int  # rows under the filter updated after the `seen` mark, not looked at
    token: ChangeToken  # the change token this window was read at
    sources: tuple[str, ...] = field(default=())
    newest_pending: int = 0  # the highest id of a pending incident (a new one rings the bell)
    active_silences: int = 0  # silences covering something now (§10)

    @property
    def log_is_empty(self) -> bool:
        return not any(self.counts.values())


def _narrowed(query, log_filter: LogFilter, *, sqlite: bool, with_state: bool = True):
    return query.where(*_conditions(log_filter, sqlite=sqlite, with_state=with_state))


def _conditions(log_filter: LogFilter, *, sqlite: bool, with_state: bool = True) -> list:
    """The filter's WHERE conditions (all must hold) on Incident joined with AlertSource."""
    conditions = []
    state = state_condition(log_filter.state)
    if with_state and state is not None:
        conditions.append(state)
    if log_filter.source:
        conditions.append(AlertSource.name == log_filter.source)
    if log_filter.severity:
        conditions.append(Incident.severity == log_filter.severity)
    text = log_filter.text.strip()
    if text:
        conditions.append(
            or_(
                *(
                    _contains(column, text, sqlite=sqlite)
                    for column in (Incident.title, Incident.key, AlertSource.name)
                )
            )
        )
    return conditions


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


def _order_columns(order: str) -> tuple:
    """The order's columns, each (expression, descending)."""
    if order not in LOG_ORDERS:
        raise IncidentError(f"order {order!r} is not one of {', '.join(LOG_ORDERS)}")
    by_id = (col(Incident.id), True)
    if order == "updated":
        return ((col(Incident.updated_at), True), by_id)
    if order == "severity":
        return ((SEVERITY_RANK, False), by_id)
    return (by_id,)


def _ordered(query, order: str):
    return query.order_by(
        *(
            expression.desc() if descending else expression.asc()
            for expression, descending in _order_columns(order)
        )
    )


def _before(order: str, values: tuple):
    """Rows that come before a row with these order values (lexicographic)."""
    columns = _order_columns(order)
    alternatives = []
    for depth, (expression, descending) in enumerate(columns):
        equal = [columns[index][0] == values[index] for index in range(depth)]
        ahead = expression > values[depth] if descending else expression < values[depth]
        alternatives.append(and_(*equal, ahead))
    return or_(*alternatives)


def _joined(*columns):
    return (
        select(*columns)
        .select_from(Incident)
        .join(AlertSource, col(AlertSource.id) == Incident.source_id)
    )


@dataclass(frozen=True)
class Anchor:
    """Read the window so that this incident is its `index`-th row (the cursor's)."""

    incident_id: int
    index: int


def read_window(
    database: Database,
    log_filter: LogFilter,
    *,
    offset: int,
    limit: int,
    anchor: Anchor | None = None,
    seen_at: datetime | None = None,
    looked: Mapping[int, datetime] | None = None,
    previous: LogWindow | None = None,
) -> LogWindow:
    """Rows [offset, offset+limit) of the filtered log, in its order, in one snapshot.

    `anchor`: place the window around that incident instead (`offset` is used only if the
    filter leaves it out). Its place and the rows are read in the same snapshot, so
    incidents arriving meanwhile cannot push it out of the window (the cursor would land
    on another incident).

    `previous`: the last window read; if the database has not changed since, its counts per
    state are kept (a keystroke in the filter then counts only what the filter matches).

    `changed_since` counts the rows under the filter updated after `seen_at` that the
    operator has not looked at since (`looked`: incident id → when), as the rows mark them.
    """
    sqlite = database.is_sqlite
    token = database_token(database)  # first: a commit after it shows at the next poll
    with database.read(snapshot=True) as session:
        if anchor is not None:
            position = _position(session, log_filter, anchor.incident_id, sqlite=sqlite)
            if position is not None:
                offset = max(0, position - anchor.index)
        if previous is not None and previous.token == token:
            counts, newest_pending = previous.counts, previous.newest_pending  # unchanged
        else:  # the whole log's counts per state and the newest pending id: one pass
            counts = dict.fromkeys(INCIDENT_STATES, 0)
            newest_pending = 0
            by_state = select(Incident.state, func.count(), func.max(Incident.id)).group_by(
                Incident.state
            )
            for state, count, newest in session.exec(by_state).all():
                counts[state] = count
                if state == "pending":
                    newest_pending = newest or 0
        if log_filter.narrows():
            # The filter's own count, over the states it keeps only (the open ones are a
            # small part of a big log): its conditions are checked on those rows alone.
            total = session.exec(_narrowed(_joined(func.count()), log_filter, sqlite=sqlite)).one()
        else:
            total = sum(counts[state] for state in OPEN_STATES)
        offset = max(0, min(offset, max(0, total - limit)))
        rows = session.exec(
            _ordered(
                _narrowed(_joined(Incident, AlertSource.name), log_filter, sqlite=sqlite),
                log_filter.order,
            )
            .offset(offset)
            .limit(limit)
        ).all()
        changed = 0
        if seen_at is not None:
            newer = _narrowed(_joined(func.count()), log_filter, sqlite=sqlite).where(
                col(Incident.updated_at) > seen_at
            )
            changed = session.exec(newer).one() - _looked_since(
                session, log_filter, seen_at, looked or {}, sqlite=sqlite
            )
        sources = tuple(session.exec(select(AlertSource.name).order_by(AlertSource.name)).all())
        active_silences = count_active(session.connection(), utc_now())
    return LogWindow(
        rows=tuple(incident_view(incident, name) for incident, name in rows),
        offset=offset,
        total=total,
        counts=counts,
        changed_since=changed,
        token=token,
        sources=sources,
        newest_pending=newest_pending,
        active_silences=active_silences,
    )


LOOKED_CHUNK = 500  # ids per IN (...) list: SQLite's variable limit is far above


def _looked_since(session, log_filter, seen_at, looked, *, sqlite: bool) -> int:
    """Of the rows updated after `seen_at`, how many the operator looked at after their
    last update (so no longer new)."""
    ids = list(looked)
    count = 0
    for start in range(0, len(ids), LOOKED_CHUNK):
        chunk = ids[start : start + LOOKED_CHUNK]
        query = _narrowed(
            _joined(Incident.id, Incident.updated_at), log_filter, sqlite=sqlite
        ).where(col(Incident.id).in_(chunk), col(Incident.updated_at) > seen_at)
        for incident_id, updated_at in session.exec(query).all():
            count += as_utc(updated_at) <= as_utc(looked[incident_id])
    return count


def position_of(database: Database, log_filter: LogFilter, incident_id: int) -> int | None:
    """Where the incident stands in the filtered log in its order (0 = first), or None if
    the filter leaves it out."""
    with database.read() as session:
        return _position(session, log_filter, incident_id, sqlite=database.is_sqlite)


def _position(session, log_filter: LogFilter, incident_id: int, *, sqlite: bool) -> int | None:
    columns = tuple(expression for expression, _descending in _order_columns(log_filter.order))
    values = session.exec(
        _narrowed(_joined(*columns), log_filter, sqlite=sqlite).where(Incident.id == incident_id)
    ).first()
    if values is None:
        return None
    values = tuple(values) if len(columns) > 1 else (values,)
    return session.exec(
        _narrowed(_joined(func.count()), log_filter, sqlite=sqlite).where(
            _before(log_filter.order, values)
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
    pruned_at: str | None = None  # §17: when retention emptied the raw source and the text


__all__ = ["IncidentView", "LogFilter", "LogWindow", "MailDetail", "MailWindow"]

MAIL_WINDOW = 100  # the mails the detail holds at a time (a window, as the log's)


@dataclass(frozen=True)
class MailWindow:
    """A window of an incident's mails, newest first, as the detail pages them."""

    rows: tuple[MailDetail, ...]
    offset: int  # index of rows[0] among the incident's mails, newest first
    total: int  # the incident's mails


def incident_mail_window(
    database: Database,
    incident_id: int,
    *,
    offset: int = 0,
    limit: int = MAIL_WINDOW,
    around: int | None = None,
    around_index: int = 0,
) -> MailWindow:
    """Mails [offset, offset+limit) of the incident, newest first, parsed for reading; with
    `around`, the window that puts that mail at row `around_index` (if it is the incident's).

    Only the window's mails are read and parsed: the ids are paged on mail_outcome's
    incident index, then those mails fetched by id.
    """
    mine = MailOutcome.incident_id == incident_id
    with database.read() as session:
        total = session.exec(select(func.count()).select_from(MailOutcome).where(mine)).one()
        if around is not None:
            newer = session.exec(
                select(func.count())
                .select_from(MailOutcome)
                .where(mine, col(MailOutcome.mail_id) > around)
            ).one()
            offset = newer - around_index
        offset = max(0, min(offset, max(0, total - limit)))
        outcomes = session.exec(
            select(MailOutcome.mail_id, MailOutcome.outcome, MailOutcome.reason)
            .where(mine)
            .order_by(col(MailOutcome.mail_id).desc(), col(MailOutcome.id).desc())
            .offset(offset)
            .limit(limit)
        ).all()
        ids = {mail_id for mail_id, _outcome, _reason in outcomes}
        mails = {mail.id: mail for mail in session.exec(select(Mail).where(col(Mail.id).in_(ids)))}
        rows = tuple(
            mail_detail_of(mails[mail_id], outcome, reason) for mail_id, outcome, reason in outcomes
        )
    return MailWindow(rows=rows, offset=offset, total=total)


# What moves an incident's change token: a sum that changes with any delivery's status.
STATUS_WEIGHT = case(
    *((Delivery.status == name, rank + 1) for rank, name in enumerate(DELIVERY_STATUSES)),
    else_=len(DELIVERY_STATUSES) + 1,
)


def incident_token(database: Database, incident_id: int) -> tuple | None:
    """A token that moves when anything the incident's detail shows changes: the incident
    row, its timeline (notes, replies, triage), its mails, its notifications and their
    tries; None if there is no such incident. One query; compare it for equality."""
    mine = Incident.id == incident_id
    newest = [
        select(func.max(TimelineEvent.id)).where(TimelineEvent.incident_id == incident_id),
        select(func.max(MailOutcome.id)).where(MailOutcome.incident_id == incident_id),
        select(func.max(Delivery.id)).where(Delivery.incident_id == incident_id),
        select(func.sum(STATUS_WEIGHT)).where(Delivery.incident_id == incident_id),
        select(func.max(DeliveryAttempt.id))
        .join(Delivery, col(Delivery.id) == DeliveryAttempt.delivery_id)
        .where(Delivery.incident_id == incident_id),
    ]
    query = select(
        Incident.updated_at, Incident.state, Incident.severity, Incident.title,
        Incident.mail_count, Incident.assignee, Incident.silenced_by, Incident.reply_count,
        *(subquery.scalar_subquery() for subquery in newest),
    ).where(mine)  # fmt: skip
    with database.read() as session:
        row = session.exec(query).first()
    return None if row is None else tuple(row)


def incident_mails(database: Database, incident_id: int) -> list[MailDetail]:
    """Every mail of the incident, oldest first, parsed for reading (the detail reads a
    window of them instead: `incident_mail_window`)."""
    query = (
        select(Mail, MailOutcome.outcome, MailOutcome.reason)
        .join(MailOutcome, col(MailOutcome.mail_id) == Mail.id)
        .where(MailOutcome.incident_id == incident_id)
        .order_by(col(Mail.id))
    )
    with database.read() as session:
        rows = session.exec(query).all()
    return [mail_detail_of(mail, outcome, reason) for mail, outcome, reason in rows]


@dataclass(frozen=True)
class StoredMail:
    """One stored mail whole (`mails show`): its fields, what it did for each source, and its
    bytes exactly as they arrived."""

    detail: MailDetail  # outcome and reason: the first source's, or "" for none
    outcomes: tuple[dict, ...]  # {source, outcome, incident_id, reason, silenced_by}
    raw: bytes  # b"" once pruned (§17)
    size: int = 0  # the bytes as they arrived, pruned or not

    def to_json(self) -> dict:
        detail = self.detail
        return {
            "id": detail.id, "received_at": detail.received_at, "via": detail.via,
            "envelope_from": detail.envelope_from, "envelope_to": list(detail.envelope_to),
            "subject": detail.subject, "from": detail.from_, "to": detail.to,
            "date": detail.date, "message_id": detail.message_id, "size": self.size,
            "defects": list(detail.defects), "outcomes": list(self.outcomes),
            "text": detail.text, "pruned_at": detail.pruned_at,
        }  # fmt: skip


def stored_mail(database: Database, mail_id: int) -> StoredMail:
    """The mail `mails show ID` prints; IncidentError when there is none."""
    with database.read() as session:
        mail = session.get(Mail, mail_id)
        if mail is None:
            raise IncidentError(f"no mail {mail_id}; `mailsiren mails list` shows their ids")
        rows = session.exec(
            select(AlertSource.name, MailOutcome.outcome, MailOutcome.incident_id,
                   MailOutcome.reason, MailOutcome.silenced_by)
            .join(AlertSource, col(AlertSource.id) == MailOutcome.source_id, isouter=True)
            .where(MailOutcome.mail_id == mail_id)
            .order_by(col(MailOutcome.id))
        ).all()  # fmt: skip
        raw = bytes(mail.raw)
        outcomes = tuple(
            {"source": name, "outcome": outcome, "incident_id": incident_id, "reason": reason,
             "silenced_by": silenced_by}
            for name, outcome, incident_id, reason, silenced_by in rows
        )  # fmt: skip
        first = outcomes[0] if outcomes else {"outcome": "", "reason": ""}
        detail = mail_detail_of(mail, first["outcome"], first["reason"])
    return StoredMail(detail, outcomes, raw, mail.size)


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
    if mail.pruned_at is not None:  # §17: what was kept beside the bytes
        return MailDetail(
            id=mail.id,  # type: ignore[arg-type]
            received_at=iso_utc(mail.received_at),  # type: ignore[arg-type]
            via=mail.via, envelope_from=mail.envelope_from, envelope_to=tuple(mail.envelope_to),
            subject=mail.subject, from_=mail.from_header, to="", date="",
            message_id=mail.message_id, text="", defects=tuple(mail.defects), outcome=outcome,
            reason=reason, raw="", pruned_at=iso_utc(mail.pruned_at),
        )  # fmt: skip
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
