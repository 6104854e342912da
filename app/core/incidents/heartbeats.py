"""Heartbeats: a source that has gone quiet for `heartbeat_minutes` opens an incident (SPEC §11).

The clock runs from the database — the source's last mail (any outcome but `rejected`),
the last heartbeat incident's end, or when the source was last saved, whichever is latest —
so a restarted or a second `serve` carries on where the other was. The incident's key is
`heartbeat`, and the index that keeps one open incident per key and source decides a race
between two serves: the second insert fails and that serve opens nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from app.core.incidents.lifecycle import INCIDENTS, IS_OPEN, SOURCES, NewIncident, open_incident
from app.core.incidents.silences import ActiveSilences
from app.core.notifications.routing import Routing
from app.core.store.db import Clock, Database, as_utc, utc_now
from app.core.store.models import Mail, MailOutcome
from app.words import plural

HEARTBEAT_KEY = "heartbeat"
HEARTBEAT_ACTOR = "heartbeat"
MAILS = Mail.__table__  # type: ignore[attr-defined]
OUTCOMES = MailOutcome.__table__  # type: ignore[attr-defined]

_LAST_HEARD = (
    select(MAILS.c.received_at)
    .join(OUTCOMES, OUTCOMES.c.mail_id == MAILS.c.id)
    .where(OUTCOMES.c.source_id == SOURCES.c.id, OUTCOMES.c.outcome != "rejected")
    .order_by(OUTCOMES.c.mail_id.desc())
    .limit(1)
    .correlate(SOURCES)
    .scalar_subquery()
)
_LAST_HEARTBEAT_END = (
    select(func.max(INCIDENTS.c.resolved_at))
    .where(INCIDENTS.c.source_id == SOURCES.c.id, INCIDENTS.c.key == HEARTBEAT_KEY)
    .correlate(SOURCES)
    .scalar_subquery()
)
_OPEN_HEARTBEAT = (
    select(INCIDENTS.c.id)
    .where(INCIDENTS.c.source_id == SOURCES.c.id, INCIDENTS.c.key == HEARTBEAT_KEY, IS_OPEN)
    .correlate(SOURCES)
    .scalar_subquery()
)
_WATCHED = select(
    SOURCES.c.id, SOURCES.c.name, SOURCES.c.severity, SOURCES.c.escalation_policy,
    SOURCES.c.heartbeat_minutes, SOURCES.c.updated_at,
    _LAST_HEARD.label("last_heard"), _LAST_HEARTBEAT_END.label("last_end"),
    _OPEN_HEARTBEAT.label("open_incident"),
).where(SOURCES.c.enabled.is_(True), SOURCES.c.heartbeat_minutes > 0)  # fmt: skip


@dataclass(frozen=True)
class Heartbeat:
    """One source's heartbeat as the sources screen shows it."""

    source_id: int
    minutes: int
    due_at: datetime
    open_incident: int | None  # the heartbeat incident open now, if any

    def describe(self, now: datetime) -> str:
        """`due in 4m`, `overdue` (its incident is open), or `due now`."""
        if self.open_incident is not None:
            return f"overdue (#{self.open_incident})"
        left = self.due_at - now
        if left <= timedelta(0):
            return "due now"
        minutes = int(left.total_seconds() // 60)
        if minutes >= 60:
            return f"due in {minutes // 60}h{minutes % 60:02d}m"
        return f"due in {minutes}m" if minutes else f"due in {int(left.total_seconds())}s"


def heartbeats(connection: Connection) -> dict[int, Heartbeat]:
    """Every enabled source's heartbeat, by source id."""
    found = {}
    for row in connection.execute(_WATCHED):
        found[row.id] = Heartbeat(row.id, row.heartbeat_minutes, _due_at(row), row.open_incident)
    return found


def read_heartbeats(database: Database) -> dict[int, Heartbeat]:
    with database.read() as session:
        return heartbeats(session.connection())


def open_due_heartbeats(database: Database, *, clock: Clock = utc_now) -> list[int]:
    """serve's timer: open the heartbeat incident of every source overdue; returns their ids.

    Each in its own transaction; if another serve opened it first, the unique index refuses
    this one and nothing is opened twice."""
    now = clock()
    opened = [open_heartbeat(database, row, now) for row in overdue(database, now)]
    return [incident_id for incident_id in opened if incident_id is not None]


def overdue(database: Database, now: datetime) -> list:
    """The watched sources whose heartbeat is due and whose heartbeat incident is not open."""
    with database.read() as session:
        rows = session.connection().execute(_WATCHED).all()
    return [row for row in rows if row.open_incident is None and _due_at(row) <= now]


def open_heartbeat(database: Database, row, now: datetime) -> int | None:
    """Open one source's heartbeat incident; None if another serve has just done it."""
    title = f"No mail from {row.name} for {plural(row.heartbeat_minutes, 'minute')}"
    new = NewIncident(
        source_id=row.id, severity=row.severity, title=title, key=HEARTBEAT_KEY,
        subject_key=title.lower(), escalation_policy=row.escalation_policy,
    )  # fmt: skip
    try:
        with database.write() as session:
            connection = session.connection()
            silence = ActiveSilences(connection, now).covering(row.id, title)
            return open_incident(
                connection, new, None, now, Routing.read(connection), silence=silence,
                why=f"serve: {title[0].lower()}{title[1:]}",
            )  # fmt: skip
    except IntegrityError:
        return None  # the one open incident per key and source: another serve's


def _due_at(row) -> datetime:
    """The latest of the last mail, the last heartbeat incident's end and the source's last
    save, plus the heartbeat's minutes."""
    moments = [as_utc(m) for m in (row.last_heard, row.last_end, row.updated_at) if m]
    return max(moments) + timedelta(minutes=row.heartbeat_minutes)
