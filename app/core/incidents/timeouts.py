"""Timeouts (SPEC §14): an accepted incident left unresolved goes back to pending, an open one
with no new mail resolves — run by serve with the injected clock.

Each source's limit is read from its row and compared with the incident's own times in the
database, so a restarted serve carries on; the lifecycle's UPDATE, which only changes an
incident still in the state it timed out from, decides between two serves.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.core.incidents.lifecycle import (
    INCIDENTS,
    SOURCES,
    auto_resolve,
    time_out_acceptance,
)
from app.core.names import OPEN_STATES
from app.core.store.db import Clock, Database, utc_now

BATCH = 500  # incidents timed out per transaction; the rest on the next look

_TIMED = select(SOURCES.c.id, SOURCES.c.ack_timeout_minutes, SOURCES.c.auto_resolve_minutes).where(
    (SOURCES.c.ack_timeout_minutes > 0) | (SOURCES.c.auto_resolve_minutes > 0)
)


def time_out_incidents(database: Database, *, clock: Clock = utc_now) -> list[tuple[int, str]]:
    """Apply every source's timeouts now; (incident id, "pending" or "resolved") for each
    incident this call changed."""
    now = clock()
    changed: list[tuple[int, str]] = []
    with database.write() as session:
        connection = session.connection()
        for source_id, ack_minutes, resolve_minutes in connection.execute(_TIMED).all():
            for minutes, since, states, time_out, state in (
                (ack_minutes, INCIDENTS.c.accepted_at, ("accepted",), time_out_acceptance,
                 "pending"),
                (resolve_minutes, INCIDENTS.c.last_mail_at, OPEN_STATES, auto_resolve,
                 "resolved"),
            ):  # fmt: skip
                if not minutes:
                    continue
                due = connection.execute(
                    select(INCIDENTS.c.id).where(
                        INCIDENTS.c.source_id == source_id, INCIDENTS.c.state.in_(states),
                        since <= now - timedelta(minutes=minutes),
                    ).order_by(INCIDENTS.c.id).limit(BATCH)
                ).scalars().all()  # fmt: skip
                changed += [
                    (incident_id, state)
                    for incident_id in due
                    if time_out(connection, incident_id, minutes, now)
                ]
    return changed
