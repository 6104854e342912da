"""The delivery log: every notification, its attempts, and advice when one failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.core.names import DELIVERY_STATUSES
from app.core.store.db import Database, as_utc
from app.core.store.models import Delivery, DeliveryAttempt, User
from app.core.users import UserView, require_current

DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]
ATTEMPTS = DeliveryAttempt.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class DeliveryView:
    id: int
    incident_id: int
    event: str
    address: str
    status: str
    attempts: int
    last_reply: str
    hint: str
    why: str
    owner: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    held_until: datetime | None
    last_attempt_at: datetime | None = None  # when it was last tried (a failure's moment)

    @property
    def happened_at(self) -> datetime:
        """When the notification reached its status: sent, last tried, or queued."""
        return self.sent_at or self.last_attempt_at or self.created_at

    def to_json(self) -> dict:
        """SPEC §6: exactly these fields."""
        return {
            "id": self.id,
            "incident_id": self.incident_id,
            "event": self.event,
            "address": self.address,
            "status": self.status,
            "attempts": self.attempts,
            "last_reply": self.last_reply,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class AttemptView:
    at: datetime
    outcome: str
    stage: str
    reply: str


def list_deliveries(
    database: Database,
    actor: UserView,
    *,
    status: str | None = None,
    incident_id: int | None = None,
    limit: int = 500,
) -> list[DeliveryView]:
    """Newest first; needs `view_connections`."""
    require_current(database, actor, "view_connections")
    if status is not None and status not in DELIVERY_STATUSES:
        raise ValueError(f"status must be one of {', '.join(DELIVERY_STATUSES)}")
    last_attempt = (
        select(func.max(ATTEMPTS.c.at))
        .where(ATTEMPTS.c.delivery_id == DELIVERIES.c.id)
        .scalar_subquery()
        .label("last_attempt_at")
    )
    query = (
        select(DELIVERIES, User.name.label("owner_name"), last_attempt)  # type: ignore[attr-defined]
        .outerjoin(User, User.id == DELIVERIES.c.owner_id)
        .order_by(DELIVERIES.c.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(DELIVERIES.c.status == status)
    if incident_id is not None:
        query = query.where(DELIVERIES.c.incident_id == incident_id)
    with database.read() as session:
        rows = session.execute(query).all()
    return [
        DeliveryView(
            row.id,
            row.incident_id,
            row.event,
            row.address,
            row.status,
            row.attempts,
            row.last_reply,
            row.hint,
            row.why,
            row.owner_name,
            as_utc(row.created_at),
            as_utc(row.next_attempt_at),
            row.sent_at and as_utc(row.sent_at),
            row.held_until and as_utc(row.held_until),
            row.last_attempt_at and as_utc(row.last_attempt_at),
        )  # fmt: skip
        for row in rows
    ]


def delivery_counts(database: Database, actor: UserView) -> dict[str, int]:
    """How many notifications have each status (every status named, 0 when none); needs
    `view_connections`. The delivery log's header says these whatever its filter shows."""
    require_current(database, actor, "view_connections")
    with database.read() as session:
        rows = session.execute(
            select(DELIVERIES.c.status, func.count()).group_by(DELIVERIES.c.status)
        ).all()
    counted = {status: count for status, count in rows}
    return {status: counted.get(status, 0) for status in DELIVERY_STATUSES}


def delivery_attempts(database: Database, delivery_id: int) -> list[AttemptView]:
    with database.read() as session:
        rows = session.execute(
            select(ATTEMPTS).where(ATTEMPTS.c.delivery_id == delivery_id).order_by(ATTEMPTS.c.id)
        ).all()
    return [AttemptView(as_utc(row.at), row.outcome, row.stage, row.reply) for row in rows]
