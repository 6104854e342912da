"""Retention (§17): the raw bytes and text of old mails whose incidents are all resolved are
pruned, in short batches; their outcomes, subjects and timelines stay."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Connection, LargeBinary, and_, cast, exists, func, select, update

from app.core.names import OPEN_STATES
from app.core.store.db import Clock, Database, as_utc, utc_now
from app.core.store.models import Incident, Mail, MailOutcome, OrgSettings

MAILS = Mail.__table__  # type: ignore[attr-defined]
OUTCOMES = MailOutcome.__table__  # type: ignore[attr-defined]
INCIDENTS = Incident.__table__  # type: ignore[attr-defined]
ORG = OrgSettings.__table__  # type: ignore[attr-defined]

BATCH = 500  # mails per write transaction: storage's commits wait at most one batch
VACUUM_PAGES = 2000  # SQLite pages (8 MB at most) handed back per incremental_vacuum
SERVE_PRUNES_EVERY = timedelta(days=1)
SQLITE_INCREMENTAL = 2  # PRAGMA auto_vacuum's value for INCREMENTAL

# What happens to the freed space: SQLite with auto_vacuum=INCREMENTAL gives it back to the
# file system; SQLite without keeps the pages for new mail (the file does not shrink);
# PostgreSQL's autovacuum makes the space reusable by new rows.
Space = Literal["returned", "kept for reuse", "postgresql"]


@dataclass(frozen=True)
class PruneReport:
    """What a prune freed (or, in a dry run, would free)."""

    mails: int
    bytes: int
    cutoff: datetime  # mails received before it were looked at
    dry_run: bool
    space: Space

    def to_json(self) -> dict:
        return {
            "mails": self.mails, "bytes": self.bytes, "cutoff": self.cutoff.isoformat(),
            "dry_run": self.dry_run, "space": self.space,
        }  # fmt: skip


def retention_days(connection: Connection) -> int:
    """`[org] retention_days`: 0 (the default) keeps every mail forever."""
    return connection.execute(select(ORG.c.retention_days).where(ORG.c.id == 1)).scalar() or 0


def _prunable(cutoff: datetime):
    """Mails received before the cutoff, not pruned yet, in no open incident (a mail in no
    incident at all — filtered, rejected, a loop — is prunable by its age alone)."""
    in_open_incident = exists().where(
        OUTCOMES.c.mail_id == MAILS.c.id,
        INCIDENTS.c.id == OUTCOMES.c.incident_id,
        INCIDENTS.c.state.in_(OPEN_STATES),
    )
    return and_(MAILS.c.received_at < cutoff, MAILS.c.pruned_at.is_(None), ~in_open_incident)


def _stored_bytes(database: Database):
    """The bytes a mail's content holds: its raw source and its decoded text."""
    text_bytes = (
        func.length(cast(MAILS.c.body_text, LargeBinary))
        if database.is_sqlite
        else func.octet_length(MAILS.c.body_text)
    )
    return func.length(MAILS.c.raw) + func.coalesce(text_bytes, 0)


def prune_mails(
    database: Database,
    older_than: timedelta,
    *,
    dry_run: bool = False,
    clock: Clock = utc_now,
    batch: int = BATCH,
    keep_going: Callable[[], bool] = lambda: True,
) -> PruneReport:
    """Empty `raw` and `body_text` of the prunable mails received more than `older_than`
    ago and set their `pruned_at`, one batch per transaction. Idempotent: a second run frees
    nothing. Two at once (two serves) never prune one mail twice: each batch's UPDATE takes
    only rows still unpruned, and PostgreSQL's SKIP LOCKED leaves the other's batch alone.
    `keep_going` is asked before each batch: False stops it there (serve stopping)."""
    now = clock()
    cutoff = now - older_than
    size = _stored_bytes(database)
    if dry_run:
        with database.read() as session:
            mails, freed = session.connection().execute(
                select(func.count(), func.coalesce(func.sum(size), 0)).where(_prunable(cutoff))
            ).one()  # fmt: skip
        return PruneReport(mails, int(freed), cutoff, True, space_after_prune(database))
    pruned = freed = 0
    after = 0  # mail id: each batch starts past the last one looked at
    while keep_going():
        with database.write() as session:
            connection = session.connection()
            rows = connection.execute(
                select(MAILS.c.id, size).where(_prunable(cutoff), MAILS.c.id > after)
                .order_by(MAILS.c.id).limit(batch)
                .with_for_update(of=MAILS, skip_locked=True)
            ).all()  # fmt: skip
            if not rows:
                break
            after = rows[-1][0]
            emptied = set(
                connection.execute(
                    update(MAILS)
                    .where(MAILS.c.id.in_([row[0] for row in rows]), MAILS.c.pruned_at.is_(None))
                    .values(raw=b"", body_text="", pruned_at=now)
                    .returning(MAILS.c.id)
                ).scalars()
            )
            pruned += len(emptied)
            freed += sum(int(stored or 0) for mail_id, stored in rows if mail_id in emptied)
    if pruned and keep_going():  # a serve stopping leaves the pages to the next prune
        give_space_back(database)
    return PruneReport(pruned, freed, cutoff, False, space_after_prune(database))


def space_after_prune(database: Database) -> Space:
    """Where the freed bytes go (see `Space`)."""
    if not database.is_sqlite:
        return "postgresql"
    with database.engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA auto_vacuum").scalar()
    return "returned" if mode == SQLITE_INCREMENTAL else "kept for reuse"


def give_space_back(database: Database) -> None:
    """SQLite with auto_vacuum=INCREMENTAL: hand the free pages back to the file system, a
    few thousand pages per transaction. Otherwise nothing (the pages are reused)."""
    if space_after_prune(database) != "returned":
        return
    raw = database.engine.raw_connection()
    try:
        sqlite = raw.driver_connection
        before = None
        while True:
            (free,) = sqlite.execute("PRAGMA freelist_count").fetchone()
            if not free or free == before:
                break
            before = free
            # executescript steps the pragma to its end (execute would free one page only);
            # the connection is in autocommit, so each call is its own short transaction.
            sqlite.executescript(f"PRAGMA incremental_vacuum({VACUUM_PAGES:d});")
    finally:
        raw.close()


def last_pruned_at(connection: Connection) -> datetime | None:
    """When a prune last emptied a mail, by any serve or `db prune`."""
    moment = connection.execute(select(func.max(MAILS.c.pruned_at))).scalar()
    return as_utc(moment) if moment is not None else None


def prune_if_due(
    database: Database, *, clock: Clock = utc_now, keep_going: Callable[[], bool] = lambda: True
) -> PruneReport | None:
    """`serve`'s daily prune: None when retention_days is 0, or a prune emptied mails less
    than a day ago (so a restarted serve, or a second serve, does not prune again the same
    day); otherwise the prune, which costs one indexed query when nothing is due."""
    with database.read() as session:
        connection = session.connection()
        days = retention_days(connection)
        last = last_pruned_at(connection)
    if days <= 0 or (last is not None and clock() - last < SERVE_PRUNES_EVERY):
        return None
    return prune_mails(database, timedelta(days=days), clock=clock, keep_going=keep_going)
