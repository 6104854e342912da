"""Incident changes as they happen, from any process or host: `incidents tail` and
`incidents wait` (SPEC §16)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import col, func, select

from app.core.incidents.lifecycle import IncidentError
from app.core.incidents.views import IncidentView, incident_view, iso_utc, state_condition
from app.core.store.changes import database_token
from app.core.store.db import Database
from app.core.store.models import AlertSource, Incident, TimelineEvent

POLL_SECONDS = 0.2  # how often the change token is read: a change shows within 1 s
# An event id below the newest one can still commit later (PostgreSQL hands ids out at
# insert, not at commit). Events are looked for again this long after they were seen,
# and the ones already given are remembered until then.
LATE_COMMIT = timedelta(seconds=30)


@dataclass(frozen=True)
class IncidentChange:
    """One timeline event, with its incident as it is now: the §5 fields plus `change`."""

    event_id: int
    at: str
    change: str  # the timeline event's kind: opened, mail, accepted, resolved, note…
    detail: str
    incident: IncidentView

    def to_json(self) -> dict:
        return {**self.incident.to_json(), "change": self.change, "change_at": self.at,
                "change_detail": self.detail}  # fmt: skip


class IncidentFeed:
    """The changes committed after it was made, by any process or host, each once."""

    def __init__(
        self,
        database: Database,
        *,
        state: str = "all",
        source: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        state_condition(state)  # an unknown state is refused now, not at the first change
        self.database, self.state, self.source, self.clock = database, state, source, clock
        self.token = database_token(database)  # before the read: a later commit moves it
        with database.read() as session:
            self.floor = session.exec(select(func.max(TimelineEvent.id))).one() or 0
        # Every event at or below the floor is done with. Above it: the ids already given,
        # and (when, newest id then) checkpoints that raise the floor once LATE_COMMIT old.
        # When is this host's clock: a writer's clock is not this one.
        self.given: set[int] = set()
        self.checkpoints: deque[tuple[float, int]] = deque()

    def follow(self, stop: Callable[[], bool] = lambda: False) -> Iterator[IncidentChange]:
        """The changes, as they are committed, until `stop()` is true."""
        yield from self.new_changes()
        while not stop():
            token = database_token(self.database)
            if token == self.token:
                time.sleep(POLL_SECONDS)
                continue
            self.token = token
            yield from self.new_changes()

    def new_changes(self) -> list[IncidentChange]:
        """The changes committed since the last call, oldest first."""
        query = (
            select(TimelineEvent, Incident, AlertSource.name)
            .join(Incident, col(Incident.id) == TimelineEvent.incident_id)
            .join(AlertSource, col(AlertSource.id) == Incident.source_id)
            .where(col(TimelineEvent.id) > self.floor)
            .order_by(col(TimelineEvent.id))
        )
        if (condition := state_condition(self.state)) is not None:
            query = query.where(condition)
        if self.source:
            query = query.where(AlertSource.name == self.source)
        with self.database.read() as session:
            newest = session.exec(select(func.max(TimelineEvent.id))).one() or 0
            rows = session.exec(query).all()
        changes = []
        for event, incident, source_name in rows:
            if event.id in self.given:
                continue
            self.given.add(event.id)  # type: ignore[arg-type]
            changes.append(
                IncidentChange(event.id, iso_utc(event.at), event.kind, event.detail,  # type: ignore[arg-type]
                               incident_view(incident, source_name))
            )  # fmt: skip
        self._settle(newest)
        return changes

    def _settle(self, newest: int) -> None:
        """Remember the newest id now; raise the floor to the newest id seen LATE_COMMIT
        ago: every event up to it has committed by now."""
        now = self.clock()
        self.checkpoints.append((now, newest))
        while self.checkpoints and self.checkpoints[0][0] < now - LATE_COMMIT.total_seconds():
            self.floor = max(self.floor, self.checkpoints.popleft()[1])
        self.given = {event_id for event_id in self.given if event_id > self.floor}


def incident_state(database: Database, incident_id: int) -> str:
    with database.read() as session:
        state = session.exec(select(Incident.state).where(Incident.id == incident_id)).first()
    if state is None:
        raise IncidentError(f"no incident #{incident_id}")
    return state


def wait_for_state(
    database: Database,
    incident_id: int,
    state: str,
    *,
    timeout: timedelta | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[bool, str]:
    """Wait until the incident is in `state` (`open`: pending or accepted); (reached, the
    state it is in). Looks again at every commit, by any process."""
    wanted = ("pending", "accepted") if state == "open" else (state,)
    deadline = None if timeout is None else clock() + timeout.total_seconds()
    token = None
    while True:
        now_token = database_token(database)
        if now_token != token:
            token = now_token
            current = incident_state(database, incident_id)
            if current in wanted:
                return True, current
        if deadline is not None and clock() >= deadline:
            return False, current
        time.sleep(POLL_SECONDS)
