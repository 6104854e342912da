"""The incident list (`incidents list`) as one plain query, runnable without SQLAlchemy."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from app.core.names import OPEN_STATES
from app.core.store.plain import PlainConnection, iso_utc


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
    assignee: str | None = None  # §14
    reply_count: int = 0  # §13: replies that joined it, apart from mail_count

    def to_json(self) -> dict:
        return asdict(self)


# The columns of IncidentView, in its order (created_at and updated_at made ISO after).
LISTED = (
    "incident.id, alert_source.name, incident.state, incident.severity, incident.title, "
    "incident.key, incident.mail_count, incident.created_at, incident.updated_at, "
    "incident.accepted_by, incident.resolved_by, incident.silenced_by, incident.assignee, "
    "incident.reply_count"
)


def list_incidents_plainly(
    connection: PlainConnection, *, state: str, source: str | None, limit: int
) -> list[IncidentView]:
    """Newest change first; `state` is a state, `open` (pending or accepted) or `all`."""
    conditions, parameters = [], []
    if state != "all":
        states = OPEN_STATES if state == "open" else (state,)
        conditions.append(f"incident.state IN ({', '.join('?' * len(states))})")
        parameters.extend(states)
    if source:
        conditions.append("alert_source.name = ?")
        parameters.append(source)
    where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
    rows = connection.rows(
        f"SELECT {LISTED} FROM incident "
        "JOIN alert_source ON alert_source.id = incident.source_id "
        f"{where}ORDER BY incident.updated_at DESC, incident.id DESC LIMIT ?",
        (*parameters, limit),
    )
    return [
        IncidentView(
            id=id_,
            source=name,
            state=state_,
            severity=severity,
            title=title,
            key=key,
            mail_count=mails,
            created_at=iso_utc(created),
            updated_at=iso_utc(updated),
            accepted_by=accepted_by,
            resolved_by=resolved_by,
            silenced_by=silenced_by,
            assignee=assignee,
            reply_count=replies or 0,
        )  # fmt: skip
        for (
            id_,
            name,
            state_,
            severity,
            title,
            key,
            mails,
            created,
            updated,
            accepted_by,
            resolved_by,
            silenced_by,
            assignee,
            replies,
        ) in rows  # fmt: skip
    ]
