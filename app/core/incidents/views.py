"""Incidents and the mail log as plain views; accept, resolve and reopen with their actor (written by the lifecycle)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase

from sqlmodel import col, select

from app.core.incidents.lifecycle import TRANSITIONS, IncidentError, add_note, assign, triage
from app.core.incidents.listing import IncidentView, list_incidents_plainly
from app.core.names import INCIDENT_STATE_FILTERS, OPEN_STATES
from app.core.store.db import Clock, Database, utc_now
from app.core.store.models import AlertSource, Incident, Mail, MailOutcome, TimelineEvent
from app.core.store.plain import PlainConnection, iso_utc
from app.core.users import UserView, require_current, user_names

STATE_FILTERS = INCIDENT_STATE_FILTERS
MOST_SELECTED = 10_000  # a --source/--key selector naming more is refused: narrow it with --key


@dataclass(frozen=True)
class TimelineEntry:
    at: str
    kind: str
    actor: str | None
    mail_id: int | None
    detail: str


@dataclass(frozen=True)
class ReplyView:
    """A person's reply that joined the incident (§13): who wrote it and its first lines."""

    mail_id: int
    at: str
    from_: str
    first_lines: tuple[str, ...]

    def to_json(self) -> dict:
        return {"mail_id": self.mail_id, "at": self.at, "from": self.from_,
                "first_lines": list(self.first_lines)}  # fmt: skip


@dataclass(frozen=True)
class IncidentDetail:
    incident: IncidentView
    timeline: tuple[TimelineEntry, ...]
    replies: tuple[ReplyView, ...] = ()

    def to_json(self) -> dict:
        return {
            **self.incident.to_json(),
            "timeline": [
                {"at": e.at, "kind": e.kind, "actor": e.actor, "detail": e.detail,
                 "mail_id": e.mail_id}
                for e in self.timeline
            ],
            "replies": [reply.to_json() for reply in self.replies],
        }  # fmt: skip

    @property
    def latest_note(self) -> TimelineEntry | None:
        notes = [entry for entry in self.timeline if entry.kind == "note"]
        return notes[-1] if notes else None


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
        assignee=incident.assignee,
        reply_count=incident.reply_count or 0,
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
    """Newest change first (the query `incidents list` also runs without SQLAlchemy)."""
    state_condition(state)  # a state that is none of the filters is refused, named
    with database.read() as session:
        connection = PlainConnection(session.connection().connection, sqlite=database.is_sqlite)
        return list_incidents_plainly(connection, state=state, source=source, limit=limit)


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
        replied = session.exec(
            select(Mail.id, Mail.received_at, Mail.from_header, Mail.body_text)
            .join(MailOutcome, col(MailOutcome.mail_id) == Mail.id)
            .where(MailOutcome.incident_id == incident_id, MailOutcome.outcome == "threaded")
            .order_by(col(Mail.id))
        ).all()
        replies = tuple(
            ReplyView(mail_id, iso_utc(at), sender, reply_lines(text or ""))  # type: ignore[arg-type]
            for mail_id, at, sender, text in replied
        )
        return IncidentDetail(incident_view(row[0], row[1]), timeline, replies)


REPLY_LINES = 3


def reply_lines(text: str, count: int = REPLY_LINES) -> tuple[str, ...]:
    """The first lines a person wrote: quoted lines (>) and the "On … wrote:" before them
    are the alert again, not what they said."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(">"):
            continue
        if stripped.endswith("wrote:") or stripped.startswith("-----Original Message"):
            break
        if lines and stripped.startswith("From:"):  # Outlook's header block of the quoted mail
            break
        lines.append(stripped[:200])
        if len(lines) == count:
            break
    return tuple(lines)


def note_incident(
    database: Database, actor: UserView, incident_id: int, text: str, *, clock: Clock = utc_now
) -> None:
    """Write a note on the incident's timeline; needs `triage`."""
    require_current(database, actor, "triage")
    with database.write() as session:
        add_note(session.connection(), actor.name, incident_id, text, clock())


def assign_incident(
    database: Database,
    actor: UserView,
    incident_id: int,
    assignee: str | None,
    *,
    clock: Clock = utc_now,
) -> bool:
    """Give the incident to a user (None: nobody); needs `triage`. False: it already was."""
    require_current(database, actor, "triage")
    if assignee is not None and assignee not in user_names(database):
        raise IncidentError(
            f"no user {assignee!r} to assign #{incident_id} to; users are: "
            f"{', '.join(user_names(database)) or 'none'}"
        )
    with database.write() as session:
        return assign(session.connection(), actor.name, incident_id, assignee, clock())


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


def selected_incidents(
    database: Database, action: str, source: str, key_glob: str | None = None
) -> list[IncidentView]:
    """The incidents of `source` that `action` can change now whose key matches the glob
    (`*`, `?`, `[…]`, case-sensitive; without one, every such incident), oldest first: what
    `incidents accept|resolve --source NAME [--key GLOB]` acts on (SPEC §16)."""
    allowed_from, _state = TRANSITIONS[action]
    with database.read() as session:
        source_id = session.exec(select(AlertSource.id).where(AlertSource.name == source)).first()
        if source_id is None:
            names = session.exec(select(AlertSource.name).order_by(AlertSource.name)).all()
            raise IncidentError(
                f"no source named {source!r}; the sources are: {', '.join(names) or 'none'}"
            )
        rows = session.exec(
            select(Incident)
            .where(Incident.source_id == source_id, col(Incident.state).in_(allowed_from))
            .order_by(col(Incident.id))
        ).all()
    chosen = [
        incident_view(row, source)
        for row in rows
        if key_glob is None or (row.key is not None and fnmatchcase(row.key, key_glob))
    ]
    if len(chosen) > MOST_SELECTED:
        raise IncidentError(
            f"{len(chosen):,} incidents match, more than {MOST_SELECTED:,} at once: narrow "
            "them with --key"
        )
    return chosen


def change_selected(
    database: Database,
    actor: UserView,
    action: str,
    incident_ids: Sequence[int],
    *,
    clock: Clock = utc_now,
) -> list[int]:
    """Accept or resolve the chosen incidents that still can be (another person or serve
    may have changed some since they were chosen: those are left as they are), in one
    transaction; the ids changed. Needs `triage`."""
    require_current(database, actor, "triage")
    with database.write() as session:
        return triage(
            session.connection(), actor.name, action, incident_ids, clock(),
            skip_unchangeable=True,
        )  # fmt: skip


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
        .join(AlertSource, col(AlertSource.id) == MailOutcome.source_id, isouter=True)
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
