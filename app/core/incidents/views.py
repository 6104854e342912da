"""Incidents and the mail log as plain views; accept, resolve and reopen with their actor (written by the lifecycle)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlmodel import col, select

from app.core.incidents.lifecycle import IncidentError, triage
from app.core.names import INCIDENT_STATE_FILTERS, OPEN_STATES
from app.core.store.db import Clock, Database, as_utc, utc_now
from app.core.store.models import AlertSource, Incident, Mail, MailOutcome, TimelineEvent
from app.core.users import UserView, require_current

STATE_FILTERS = INCIDENT_STATE_FILTERS


def iso_utc(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat().replace("+00:00", "Z") if moment else None


@dataclass(frozen=True)
class IncidentView:
    id: int
    source: str
    state: str
    severity: str
    title: str
    key: str | None
    mail_count: int
    created_at: str
    updated_at: str
    accepted_by: str | None
    resolved_by: str | None
    silenced_by: int | None = None  # the silence holding its pages (§10)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TimelineEntry:
    at: str
    kind: str
    actor: str | None
    mail_id: int | None
    detail: str


@dataclass(frozen=True)
class IncidentDetail:
    incident: IncidentView
    timeline: tuple[TimelineEntry, ...]

    def to_json(self) -> dict:
        return {**self.incident.to_json(), "timeline": [asdict(e) for e in self.timeline]}


@dataclass(frozen=True)
class MailView:
    id: int
    received_at: str
    source: str | None
    subject: str
    from_: str
    outcome: str
    incident_id: int | None
    reason: str
    silenced_by: int | None = None  # the silence that covered the mail for that source (§10)

    def to_json(self) -> dict:
        data = asdict(self)
        data["from"] = data.pop("from_")
        return data


def incident_view(incident: Incident, source_name: str) -> IncidentView:
    return IncidentView(
        id=incident.id,  # type: ignore[arg-type]
        source=source_name,
        state=incident.state,
        severity=incident.severity,
        title=incident.title,
        key=incident.key,
        mail_count=incident.mail_count,
        created_at=iso_utc(incident.created_at),  # type: ignore[arg-type]
        updated_at=iso_utc(incident.updated_at),  # type: ignore[arg-type]
        accepted_by=incident.accepted_by,
        resolved_by=incident.resolved_by,
        silenced_by=incident.silenced_by,
    )


def state_condition(state: str):
    """The WHERE clause of a state filter (None for `all`); `open` is pending or accepted."""
    if state not in STATE_FILTERS:
        raise IncidentError(f"state {state!r} is not one of {', '.join(STATE_FILTERS)}")
    if state == "all":
        return None
    return col(Incident.state).in_(OPEN_STATES if state == "open" else (state,))


def list_incidents(
    database: Database, *, state: str = "open", source: str | None = None, limit: int = 100
) -> list[IncidentView]:
    """Newest first."""
    query = select(Incident, AlertSource.name).join(
        AlertSource, col(AlertSource.id) == Incident.source_id
    )
    if (condition := state_condition(state)) is not None:
        query = query.where(condition)
    if source:
        query = query.where(AlertSource.name == source)
    query = query.order_by(col(Incident.updated_at).desc(), col(Incident.id).desc()).limit(limit)
    with database.read() as session:
        return [incident_view(incident, name) for incident, name in session.exec(query).all()]


def show_incident(database: Database, incident_id: int) -> IncidentDetail:
    with database.read() as session:
        row = session.exec(
            select(Incident, AlertSource.name)
            .join(AlertSource, col(AlertSource.id) == Incident.source_id)
            .where(Incident.id == incident_id)
        ).first()
        if row is None:
            raise IncidentError(f"no incident #{incident_id}")
        events = session.exec(
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident_id)
            .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
        ).all()
        timeline = tuple(
            TimelineEntry(iso_utc(e.at), e.kind, e.actor, e.mail_id, e.detail)  # type: ignore[arg-type]
            for e in events
        )
        return IncidentDetail(incident_view(row[0], row[1]), timeline)


def change_state(
    database: Database,
    actor: UserView,
    action: str,
    incident_ids: Sequence[int],
    *,
    clock: Clock = utc_now,
) -> list[IncidentView]:
    """Accept, resolve or reopen; all or nothing. Needs the `triage` permission."""
    require_current(database, actor, "triage")
    with database.write() as session:
        triage(session.connection(), actor.name, action, incident_ids, clock())
        rows = session.exec(
            select(Incident, AlertSource.name)
            .join(AlertSource, col(AlertSource.id) == Incident.source_id)
            .where(col(Incident.id).in_(incident_ids))
        ).all()
        views = {incident.id: incident_view(incident, name) for incident, name in rows}
        return [views[incident_id] for incident_id in incident_ids]


def list_mails(
    database: Database,
    *,
    source: str | None = None,
    outcome: str | None = None,
    limit: int = 100,
) -> list[MailView]:
    """The mail log, newest first: one line per (mail, source) outcome."""
    query = (
        select(Mail.id, Mail.received_at, AlertSource.name, Mail.subject, Mail.from_header,
               MailOutcome.outcome, MailOutcome.incident_id, MailOutcome.reason,
               MailOutcome.silenced_by)
        .join(MailOutcome, col(MailOutcome.mail_id) == Mail.id)
        .join(AlertSource, col(AlertSource.id) == MailOutcome.source_id)
    )  # fmt: skip
    if source:
        query = query.where(AlertSource.name == source)
    if outcome:
        query = query.where(MailOutcome.outcome == outcome)
    query = query.order_by(col(Mail.id).desc(), col(MailOutcome.id)).limit(limit)
    with database.read() as session:
        return [
            MailView(mail_id, iso_utc(at), name, subject, sender, result, incident_id, reason,  # type: ignore[arg-type]
                     silenced_by)
            for mail_id, at, name, subject, sender, result, incident_id, reason, silenced_by
            in session.exec(query).all()
        ]  # fmt: skip
