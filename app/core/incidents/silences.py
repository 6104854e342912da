"""Silences: maintenance windows whose mails are processed as usual but page nobody (SPEC §10).

A silence covers a source (or every source) from `starts_at` to `ends_at`, optionally only
mails whose subject its RE2 `match` finds. The pipeline asks `ActiveSilences` which silence
covers a mail; the lifecycle then holds the incident it opens (`incident.silenced_by`).
When the silence ends — its time, or `silences end` — `release_silence` pages every
incident it held that is still open, as if it had just opened; the one writer whose UPDATE
finds `released_at` empty does it, so two serves never page twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import Connection, func, select, update

from app.core.incidents.lifecycle import (
    INCIDENTS,
    IS_OPEN,
    SOURCES,
    page_held_incident,
    record_event,
)
from app.core.intake.rules import RuleError, compile_re2
from app.core.store.db import Clock, Database, as_utc, utc_now
from app.core.store.models import Silence
from app.core.users import UserView, require_current
from app.errors import MailsirenError

SILENCES = Silence.__table__  # type: ignore[attr-defined]
LONGEST = timedelta(days=90)  # a silence needs an end; one this far off is surely a typo
_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$", re.I)
_CLOCK_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


class SilenceError(MailsirenError, ValueError):
    """A silence that cannot be added or ended; the message says why and what to type."""

    title = "Silence not saved"


@dataclass(frozen=True)
class SilenceView:
    """A silence as the CLI and the screens read it."""

    id: int
    source: str | None  # None: every source
    match: str | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    ended_by: str | None
    held: int  # incidents it holds now, still open: paged when it ends

    def is_active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def scope(self) -> str:
        where = f"source {self.source}" if self.source else "every source"
        return f"{where}, subject matching {self.match!r}" if self.match else where

    def to_dict(self) -> dict:
        return {
            "id": self.id, "source": self.source, "match": self.match,
            "starts_at": self.starts_at.isoformat(), "ends_at": self.ends_at.isoformat(),
            "reason": self.reason, "created_by": self.created_by, "ended_by": self.ended_by,
            "held": self.held,
        }  # fmt: skip


# Reading what the operator typed -----------------------------------------------------------


def parse_duration(text: str) -> timedelta:
    """`90m`, `2h`, `1d`, `1h30m` → a timedelta; anything else is refused, with examples."""
    found = _DURATION.match(text or "")
    if not found or not any(found.groups()):
        raise SilenceError(f"{text!r} is not a duration: write it like 90m, 2h, 1d or 1h30m.")
    days, hours, minutes = (int(part or 0) for part in found.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes)
    if duration <= timedelta(0):
        raise SilenceError(f"{text!r} lasts no time: give a length, like 90m or 2h.")
    return duration


def parse_moment(text: str, now: datetime) -> datetime:
    """ISO 8601 (`2026-12-02T18:00`, with or without a zone: local if none) or `HH:MM`
    local: the next time the clock shows it (`until 08:00` at 3 a.m. is this morning)."""
    local_now = now.astimezone()
    clock_time = _CLOCK_TIME.match(text or "")
    if clock_time:
        hour, minute = int(clock_time.group(1)), int(clock_time.group(2))
        if hour > 23 or minute > 59:
            raise SilenceError(f"{text!r} is not a time of day: write it like 18:00.")
        day = local_now.date() + timedelta(days=time(hour, minute) <= local_now.time())
        return as_utc(datetime.combine(day, time(hour, minute)).astimezone())
    try:
        moment = datetime.fromisoformat((text or "").strip())
    except ValueError:
        raise SilenceError(
            f"{text!r} is not a time: write it like 18:00 (local) or 2026-12-02T18:00."
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a time without a zone is local time
    return as_utc(moment)


def read_window(
    now: datetime,
    *,
    starts: str | None = None,
    duration: str | None = None,
    until: str | None = None,
) -> tuple[datetime, datetime]:
    """(starts_at, ends_at) from `--starts`, and `--for` or `--until` (exactly one)."""
    if bool(duration) == bool(until):
        raise SilenceError(
            "A silence needs an end, given once: --for DURATION (90m, 2h) or --until TIME "
            "(18:00, 2026-12-02T18:00)."
        )
    starts_at = parse_moment(starts, now) if starts else now
    ends_at = starts_at + parse_duration(duration) if duration else parse_moment(until, now)
    return starts_at, ends_at


def window_from_text(now: datetime, text: str) -> tuple[datetime, datetime]:
    """What the TUI's one field takes: `90m`, `2h`, `1h30m`, or `until 18:00` (`until` is
    optional before a time) → (now, the end)."""
    typed = (text or "").strip()
    if not typed:
        raise SilenceError("Say for how long: 90m, 2h, 1d, or until 18:00.")
    if typed.startswith("-"):
        raise SilenceError(f"{typed!r} is not a duration: write it like 90m, 2h, 1d or 1h30m.")
    if typed.lower().startswith("until "):
        return read_window(now, until=typed[6:])
    if _CLOCK_TIME.match(typed) or "-" in typed:
        return read_window(now, until=typed)
    return read_window(now, duration=typed)


def check_window(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    """Refuse an end in the past, before the start, or more than 90 days off."""
    if ends_at <= now:
        raise SilenceError(f"That silence would end at {ends_at:%Y-%m-%d %H:%M} UTC, in the past.")
    if ends_at <= starts_at:
        raise SilenceError("A silence must end after it starts.")
    if ends_at - max(starts_at, now) > LONGEST:
        raise SilenceError("A silence may last at most 90 days; add another when it ends.")


# Adding, ending, listing -------------------------------------------------------------------


def add_silence(
    database: Database,
    actor: UserView,
    *,
    source: str | None,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    match: str | None = None,
    clock: Clock = utc_now,
) -> SilenceView:
    """A new silence (permission `triage`). `source` None covers every source."""
    require_current(database, actor, "triage")
    now = clock()
    reason = " ".join((reason or "").split())
    if not reason:
        raise SilenceError("A silence needs a reason (--reason): say what the maintenance is.")
    check_window(starts_at, ends_at, now)
    if match:
        try:
            compile_re2(match, case_sensitive=False)
        except RuleError as error:
            raise SilenceError(f"--match {match!r}: {error}") from error
    with database.write() as session:
        connection = session.connection()
        source_id = None
        if source is not None:
            source_id = connection.execute(
                select(SOURCES.c.id).where(SOURCES.c.name == source)
            ).scalar()
            if source_id is None:
                names = connection.execute(select(SOURCES.c.name).order_by(SOURCES.c.name))
                known = ", ".join(names.scalars()) or "none yet"
                raise SilenceError(
                    f"No alert source is named {source!r} (the sources: {known}); or silence "
                    "every source (--all)."
                )
        silence_id = connection.execute(
            SILENCES.insert().values(
                source_id=source_id, match=match or None, starts_at=starts_at, ends_at=ends_at,
                reason=reason, created_by=actor.name, created_at=now,
            )
        ).inserted_primary_key[0]  # fmt: skip
    return show_silence(database, silence_id)


def end_silence(
    database: Database, actor: UserView, silence_id: int, *, clock: Clock = utc_now
) -> SilenceView:
    """End a silence now (permission `triage`); what it held and is still open is paged now."""
    require_current(database, actor, "triage")
    now = clock()
    with database.write() as session:
        connection = session.connection()
        row = connection.execute(
            select(SILENCES).where(SILENCES.c.id == silence_id).with_for_update()
        ).first()
        if row is None:
            raise SilenceError(f"No silence #{silence_id}; `mailsiren silences list` shows them.")
        if as_utc(row.ends_at) <= now:
            raise SilenceError(f"Silence #{silence_id} has ended already.")
        connection.execute(
            update(SILENCES)
            .where(SILENCES.c.id == silence_id)
            .values(ends_at=max(now, as_utc(row.starts_at)), ended_by=actor.name)
        )
        release_silence(connection, silence_id, now)
    return show_silence(database, silence_id)


def list_silences(
    database: Database, *, include_ended: bool = False, clock: Clock = utc_now
) -> list[SilenceView]:
    """Active and future silences, soonest end first; `include_ended` adds the past ones."""
    now = clock()
    query = _VIEW.order_by(SILENCES.c.ends_at, SILENCES.c.id)
    if not include_ended:
        query = query.where(SILENCES.c.ends_at > now)
    with database.read() as session:
        return [_view(row) for row in session.connection().execute(query)]


def show_silence(database: Database, silence_id: int) -> SilenceView:
    with database.read() as session:
        row = session.connection().execute(_VIEW.where(SILENCES.c.id == silence_id)).first()
    if row is None:
        raise SilenceError(f"No silence #{silence_id}; `mailsiren silences list` shows them.")
    return _view(row)


def count_active(connection: Connection, now: datetime) -> int:
    """How many silences cover something now (the incident log's header says it)."""
    return connection.execute(
        select(func.count()).select_from(SILENCES).where(
            SILENCES.c.starts_at <= now, SILENCES.c.ends_at > now
        )
    ).scalar_one()  # fmt: skip


def _held_count():
    return (
        select(func.count())
        .where(INCIDENTS.c.silenced_by == SILENCES.c.id, IS_OPEN)
        .correlate(SILENCES)
        .scalar_subquery()
    )


_VIEW = select(SILENCES, SOURCES.c.name.label("source_name"), _held_count().label("held")).join(
    SOURCES, SOURCES.c.id == SILENCES.c.source_id, isouter=True
)


def _view(row) -> SilenceView:
    return SilenceView(
        id=row.id, source=row.source_name, match=row.match, starts_at=as_utc(row.starts_at),
        ends_at=as_utc(row.ends_at), reason=row.reason, created_by=row.created_by,
        ended_by=row.ended_by, held=row.held or 0,
    )  # fmt: skip


# What the pipeline and serve ask -----------------------------------------------------------


@dataclass(frozen=True)
class Covering:
    """The silence that covers a mail: its id and reason, as the timeline says them."""

    id: int
    reason: str


class ActiveSilences:
    """The silences active at one moment, read once per ingest batch."""

    def __init__(self, connection: Connection, now: datetime) -> None:
        rows = connection.execute(
            select(SILENCES.c.id, SILENCES.c.source_id, SILENCES.c.match, SILENCES.c.reason)
            .where(SILENCES.c.starts_at <= now, SILENCES.c.ends_at > now)
            .order_by(SILENCES.c.ends_at.desc(), SILENCES.c.id)  # the longest holds
        ).all()
        self.silences = [
            (row.source_id, compile_re2(row.match, case_sensitive=False) if row.match else None,
             Covering(row.id, row.reason))
            for row in rows
        ]  # fmt: skip

    def covering(self, source_id: int | None, subject: str) -> Covering | None:
        for silenced_source, pattern, covering in self.silences:
            if silenced_source is not None and silenced_source != source_id:
                continue
            if pattern is not None and not pattern.search(subject or ""):
                continue
            return covering
        return None


def release_ended_silences(database: Database, *, clock: Clock = utc_now) -> list[int]:
    """serve's timer: every silence that has ended and not been released is released now;
    returns their ids. Each in its own transaction, decided by the database."""
    now = clock()
    with database.read() as session:
        due = session.connection().execute(
            select(SILENCES.c.id).where(SILENCES.c.ends_at <= now, SILENCES.c.released_at.is_(None))
        ).scalars().all()  # fmt: skip
    released = []
    for silence_id in due:
        with database.write() as session:
            if release_silence(session.connection(), silence_id, now):
                released.append(silence_id)
    return released


def release_silence(connection: Connection, silence_id: int, now: datetime) -> bool:
    """Page what the silence held and is still open, once: False if another serve did."""
    claimed = connection.execute(
        update(SILENCES)
        .where(SILENCES.c.id == silence_id, SILENCES.c.released_at.is_(None))
        .values(released_at=now)
    ).rowcount
    if claimed != 1:
        return False
    held = connection.execute(
        select(INCIDENTS.c.id, INCIDENTS.c.source_id, INCIDENTS.c.title, INCIDENTS.c.state)
        .where(INCIDENTS.c.silenced_by == silence_id)
        .order_by(INCIDENTS.c.id)
        .with_for_update()
    ).all()
    still = ActiveSilences(connection, now)
    for incident in held:
        if incident.state == "resolved":  # resolved during the silence: it never pages
            connection.execute(
                update(INCIDENTS).where(INCIDENTS.c.id == incident.id).values(silenced_by=None)
            )
            continue
        other = still.covering(incident.source_id, incident.title)
        if other is not None:  # another silence still covers it: that one holds it now
            connection.execute(
                update(INCIDENTS).where(INCIDENTS.c.id == incident.id).values(silenced_by=other.id)
            )
            record_event(
                connection, incident.id, now, "silence",
                f"silence #{silence_id} ended; still silenced by #{other.id} ({other.reason})",
            )  # fmt: skip
            continue
        page_held_incident(connection, incident.id, now, f"silence #{silence_id} ended")
    return True
