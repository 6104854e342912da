"""The service's figures as the database has them now (SPEC §17), for `serve --metrics-port`.

Plain data, no Prometheus here: `app/server/metrics.py` turns `ServiceFigures` into
Prometheus series. Every figure is read at scrape time in one read transaction with a
handful of GROUP BY queries, so it is true across processes, restarts and two serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from app.core.incidents.heartbeats import heartbeats
from app.core.incidents.lifecycle import INCIDENTS, IS_OPEN, SOURCES
from app.core.incidents.silences import count_active
from app.core.intake.pipeline import REPLIES
from app.core.names import DELIVERY_STATUSES, OPEN_STATES
from app.core.notifications.outbox import DELIVERIES, WAITING
from app.core.store.db import Clock, Database, as_utc, utc_now
from app.core.store.models import MailOutcome

OUTCOMES = MailOutcome.__table__  # type: ignore[attr-defined]
# When a waiting row may be sent: at once, or when its storm hold or digest period ends.
_DUE_SINCE = func.coalesce(DELIVERIES.c.held_until, DELIVERIES.c.created_at)


@dataclass(frozen=True)
class ServiceFigures:
    """What a scrape reports from the database."""

    mails: Mapping[tuple[str, str], int]  # (source, outcome) → mails; REPLIES for replies
    open_incidents: Mapping[tuple[str, str], int]  # (source, state) → incidents, every source
    deliveries: Mapping[str, int]  # status → deliveries, every status
    outbox_depth: int  # deliveries queued or retrying, held ones too
    outbox_oldest_seconds: float  # how long the longest-waiting due row has waited; 0: none
    heartbeats_overdue: int  # watched sources overdue now, or whose heartbeat incident is open
    active_silences: int


def read_figures(database: Database, *, clock: Clock = utc_now) -> ServiceFigures:
    """Every figure, read in one short read transaction."""
    now = clock()
    with database.read() as session:
        return figures(session.connection(), now)


def figures(connection: Connection, now: datetime) -> ServiceFigures:
    source_names = dict(connection.execute(select(SOURCES.c.id, SOURCES.c.name)).all())
    mails = {
        (source_names.get(source_id, REPLIES), outcome): count
        for source_id, outcome, count in connection.execute(
            select(OUTCOMES.c.source_id, OUTCOMES.c.outcome, func.count())
            .group_by(OUTCOMES.c.source_id, OUTCOMES.c.outcome)
        )
    }  # fmt: skip
    open_incidents = {(name, state): 0 for name in source_names.values() for state in OPEN_STATES}
    for source_id, state, count in connection.execute(
        select(INCIDENTS.c.source_id, INCIDENTS.c.state, func.count())
        .where(IS_OPEN)
        .group_by(INCIDENTS.c.source_id, INCIDENTS.c.state)
    ):  # fmt: skip
        open_incidents[source_names[source_id], state] = count
    deliveries = dict.fromkeys(DELIVERY_STATUSES, 0)
    deliveries.update(
        connection.execute(
            select(DELIVERIES.c.status, func.count()).group_by(DELIVERIES.c.status)
        ).all()
    )
    depth, oldest_due = connection.execute(
        select(
            func.count(),
            func.min(_DUE_SINCE).filter(_DUE_SINCE <= now),  # noqa: SIM300 - SQL, not Yoda
        ).where(WAITING)
    ).one()
    oldest_seconds = max(0.0, (now - as_utc(oldest_due)).total_seconds()) if oldest_due else 0.0
    overdue = sum(
        beat.open_incident is not None or beat.due_at <= now
        for beat in heartbeats(connection).values()
    )
    return ServiceFigures(
        mails=mails,
        open_incidents=open_incidents,
        deliveries=deliveries,
        outbox_depth=depth,
        outbox_oldest_seconds=oldest_seconds,
        heartbeats_overdue=overdue,
        active_silences=count_active(connection, now),
    )
