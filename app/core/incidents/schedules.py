"""On-call schedules (SPEC §18): rotations in a schedule's zone, overrides, who is on call.

A rotation's shifts are counted on the wall clock of the schedule's zone: shift k starts
at `handoff + k × length` local time, so a weekly rotation handing off Monday 09:00 hands
off at 09:00 local in winter and in summer, whatever the length (12h, 1d, 1w). A local
time the clock skips (02:30 on the spring-forward night) is read as zoneinfo reads it with
fold=0: the offset before the change, so 02:30 becomes 03:30 local (the same distance past
the change); a local time that happens twice (the autumn night) is its first occurrence.
Before `handoff` the rotation runs backwards the same way. An override wins while it
lasts; when two overlap, the one added last wins.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, delete, insert, select
from sqlmodel import Session

from app.core.entries import known_table
from app.core.store.db import Clock, Database, as_utc, utc_now
from app.core.store.models import Schedule, ScheduleOverride, User
from app.core.users import UserView, require_current
from app.errors import MailsirenError

SCHEDULES = Schedule.__table__  # type: ignore[attr-defined]
OVERRIDES = ScheduleOverride.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]
TARGET_PREFIX = "schedule:"  # an escalation step's target naming a schedule
SCHEDULE_KEYS = ("name", "time_zone", "rotation", "override")
ROTATION_KEYS = ("users", "length", "handoff")
OVERRIDE_KEYS = ("user", "starts_at", "ends_at")
_LENGTH = re.compile(r"^\s*(\d+)\s*([wdh])\s*$")
_UNIT = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1)}
LONGEST_LENGTH = timedelta(weeks=52)
LONGEST_OVERRIDE = timedelta(days=366)


class ScheduleError(MailsirenError, ValueError):
    """A schedule or an override that cannot be saved or read; the message names the entry
    and key."""

    title = "Schedule not valid"


def host_time_zone() -> str:
    """The host's IANA zone: $TZ if it names one, else /etc/localtime's link, else UTC."""
    named = (os.environ.get("TZ") or "").lstrip(":")
    if named and _zone_or_none(named) is not None:
        return named
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        return "UTC"
    _, found, name = target.partition("zoneinfo/")
    return name if found and _zone_or_none(name) is not None else "UTC"


def _zone_or_none(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_length(text: object, where: str = "length") -> timedelta:
    """`12h`, `1d`, `1w` (a whole number of hours, days or weeks) → a timedelta."""
    found = _LENGTH.match(text) if isinstance(text, str) else None
    if not found or int(found.group(1)) == 0:
        raise ScheduleError(
            f'{where}: {text!r} is not a shift length: write it like "12h", "1d" or "1w"'
        )
    length = int(found.group(1)) * _UNIT[found.group(2)]
    if length > LONGEST_LENGTH:
        raise ScheduleError(f"{where}: {text!r} is longer than a year")
    return length


def parse_zone(text: object, where: str = "time_zone") -> ZoneInfo:
    zone = _zone_or_none(text) if isinstance(text, str) and text.strip() else None
    if zone is None:
        raise ScheduleError(
            f'{where}: {text!r} is not an IANA time zone: write it like "Europe/Berlin" or "UTC"'
        )
    return zone


def parse_handoff(text: object, where: str = "handoff") -> datetime:
    """`2026-12-07T09:00`, local to the schedule's zone (no offset: the zone says it)."""
    try:
        moment = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is not None:
        raise ScheduleError(
            f'{where}: {text!r} is not a local date and time: write it like "2026-12-07T09:00" '
            "(local to the schedule's time_zone, no offset)"
        )
    return moment.replace(second=0, microsecond=0)


@dataclass(frozen=True)
class OverrideSpec:
    user: str
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC

    def to_dict(self) -> dict:
        return {"user": self.user, "starts_at": self.starts_at, "ends_at": self.ends_at}


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule as a file and the CLI give it; `overrides` in the order they were added."""

    name: str
    time_zone: str
    users: tuple[str, ...]
    length: str
    handoff: str
    overrides: tuple[OverrideSpec, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def to_dict(self) -> dict:
        data: dict = {
            "name": self.name, "time_zone": self.time_zone,
            "rotation": {"users": list(self.users), "length": self.length, "handoff": self.handoff},
        }  # fmt: skip
        if self.overrides:
            data["override"] = [override.to_dict() for override in self.overrides]
        return data

    # The rotation's arithmetic: wall-clock in the zone, fold=0 (see the module's docstring)

    def shift_start(self, index: int) -> datetime:
        """When the rotation's shift `index` starts (0: the handoff; negative: before it)."""
        local = parse_handoff(self.handoff) + index * parse_length(self.length)
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    def shift_index(self, moment: datetime) -> int:
        """The rotation's shift that holds `moment`."""
        local = as_utc(moment).astimezone(self.zone).replace(tzinfo=None)
        index = (local - parse_handoff(self.handoff)) // parse_length(self.length)
        while self.shift_start(index) > moment:
            index -= 1
        while self.shift_start(index + 1) <= moment:
            index += 1
        return index

    def rotation_user(self, index: int) -> str:
        return self.users[index % len(self.users)]

    def override_at(self, moment: datetime) -> OverrideSpec | None:
        covering = [o for o in self.overrides if o.starts_at <= moment < o.ends_at]
        return covering[-1] if covering else None

    def shifts(self, starts: datetime, ends: datetime) -> list[Shift]:
        """Who is on call from `starts` to `ends`, as consecutive shifts (overrides cut the
        rotation's shifts; the first and last are cut at the window)."""
        starts, ends = as_utc(starts), as_utc(ends)
        edges = {starts, ends}
        index = self.shift_index(starts) + 1
        while (start := self.shift_start(index)) < ends:
            edges.add(start)
            index += 1
        for override in self.overrides:
            edges.update(e for e in (override.starts_at, override.ends_at) if starts < e < ends)
        points = sorted(edges)
        found: list[Shift] = []
        for begin, end in zip(points, points[1:], strict=False):
            user, override = self._who(begin)
            if found and found[-1].user == user and found[-1].override == override:
                found[-1] = Shift(self.name, user, found[-1].starts_at, end, override)
            else:
                found.append(Shift(self.name, user, begin, end, override))
        return found

    def _who(self, moment: datetime) -> tuple[str, bool]:
        override = self.override_at(moment)
        if override is not None:
            return override.user, True
        return self.rotation_user(self.shift_index(moment)), False

    def on_call(self, moment: datetime) -> Shift:
        """Who is on call at `moment`, from when until when (the whole shift, overrides
        included: an override's window, or the rotation's shift cut by overrides)."""
        moment = as_utc(moment)
        override = self.override_at(moment)
        if override is not None:
            return Shift(self.name, override.user, override.starts_at, override.ends_at, True)
        index = self.shift_index(moment)
        starts, ends = self.shift_start(index), self.shift_start(index + 1)
        for other in self.overrides:
            if other.ends_at <= moment and other.ends_at > starts:
                starts = other.ends_at
            if other.starts_at > moment and other.starts_at < ends:
                ends = other.starts_at
        return Shift(self.name, self.rotation_user(index), starts, ends, False)


@dataclass(frozen=True)
class Shift:
    """A user on call from `starts_at` to `ends_at` (UTC); `override` if an override says so."""

    schedule: str
    user: str
    starts_at: datetime
    ends_at: datetime
    override: bool


@dataclass(frozen=True)
class OnCall:
    """`schedules who`: the shift, and the user's email (None: they have none)."""

    shift: Shift
    email: str | None

    def to_dict(self) -> dict:
        return {
            "schedule": self.shift.schedule, "user": self.shift.user, "email": self.email,
            "from": _iso(self.shift.starts_at), "until": _iso(self.shift.ends_at),
            "override": self.shift.override,
        }  # fmt: skip


def _iso(moment: datetime) -> str:
    return as_utc(moment).astimezone(UTC).isoformat().replace("+00:00", "Z")


# Reading a [[schedule]] --------------------------------------------------------------------


def _aware(value: object, where: str) -> datetime:
    """A TOML date-time (an offset, or local to the host) or an ISO 8601 string → UTC."""
    if isinstance(value, str):
        with suppress(ValueError):
            value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise ScheduleError(f"{where}: {value!r} is not a date and time like 2026-12-09T08:00:00Z")
    return as_utc(value if value.tzinfo else value.astimezone()).astimezone(UTC)


def parse_schedule(data: object, where: str) -> ScheduleSpec:
    """Validate one `[[schedule]]`; ScheduleError names the entry and key. That its users
    exist is checked against the database when it is saved."""
    data = known_table(data, where, SCHEDULE_KEYS, ScheduleError)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 128:
        raise ScheduleError(f'{where}: name must be a short non-empty string, e.g. "primary"')
    name = name.strip()
    if any(ch in name for ch in "\r\n\t ,"):
        raise ScheduleError(f"{where}: name must be one word, without spaces or commas")
    where = f"{where} ({name})"
    zone_name = data.get("time_zone", host_time_zone())
    parse_zone(zone_name, f"{where}: time_zone")
    rotation = data.get("rotation")
    if not isinstance(rotation, dict):
        raise ScheduleError(
            f'{where}: rotation: missing; give it as rotation = {{ users = ["ann", "bob"], '
            'length = "1w", handoff = "2026-12-07T09:00" }'
        )
    extra = sorted(set(rotation) - set(ROTATION_KEYS))
    if extra:
        raise ScheduleError(
            f"{where}: rotation: unknown key {extra[0]!r}; known: {', '.join(ROTATION_KEYS)}"
        )
    users = rotation.get("users")
    if not isinstance(users, list) or not users:
        raise ScheduleError(
            f'{where}: rotation.users: must be a non-empty list like ["ann", "bob"]'
        )
    if not all(isinstance(user, str) and user.strip() for user in users):
        raise ScheduleError(f"{where}: rotation.users: each is a mailsiren user's name")
    length = rotation.get("length")
    parse_length(length, f"{where}: rotation.length")
    handoff = rotation.get("handoff")
    handoff_at = parse_handoff(handoff, f"{where}: rotation.handoff")
    overrides = []
    entries = data.get("override", [])
    if not isinstance(entries, list):
        raise ScheduleError(f"{where}: override entries are [[schedule.override]] tables")
    for index, entry in enumerate(entries, start=1):
        overrides.append(parse_override(entry, f"{where}: override {index}"))
    return ScheduleSpec(
        name, zone_name, tuple(user.strip() for user in users), length.strip(),
        handoff_at.isoformat(timespec="minutes"), tuple(overrides),
    )  # fmt: skip


def parse_override(data: object, where: str) -> OverrideSpec:
    if not isinstance(data, dict):
        raise ScheduleError(f"{where}: must be a table with user, starts_at and ends_at")
    extra = sorted(set(data) - set(OVERRIDE_KEYS))
    if extra:
        raise ScheduleError(f"{where}: unknown key {extra[0]!r}; known: {', '.join(OVERRIDE_KEYS)}")
    user = data.get("user")
    if not isinstance(user, str) or not user.strip():
        raise ScheduleError(f"{where}: user: the mailsiren user on call instead")
    for key in ("starts_at", "ends_at"):
        if key not in data:
            raise ScheduleError(f"{where}: {key}: missing, e.g. {key} = 2026-12-09T08:00:00Z")
    starts_at = _aware(data["starts_at"], f"{where}: starts_at")
    ends_at = _aware(data["ends_at"], f"{where}: ends_at")
    check_override_window(starts_at, ends_at, where)
    return OverrideSpec(user.strip(), starts_at, ends_at)


def check_override_window(starts_at: datetime, ends_at: datetime, where: str) -> None:
    if ends_at <= starts_at:
        raise ScheduleError(
            f"{where}: ends_at ({_iso(ends_at)}) is not after starts_at ({_iso(starts_at)})"
        )
    if ends_at - starts_at > LONGEST_OVERRIDE:
        raise ScheduleError(f"{where}: an override lasts at most a year; change the rotation")


# Reading and writing the database ----------------------------------------------------------


def _specs(connection: Connection, name: str | None = None) -> list[ScheduleSpec]:
    query = select(SCHEDULES).order_by(SCHEDULES.c.name)
    if name is not None:
        query = query.where(SCHEDULES.c.name == name)
    rows = connection.execute(query).all()
    if not rows:
        return []
    overrides: dict[int, list[OverrideSpec]] = {}
    for row in connection.execute(
        select(OVERRIDES.c.schedule_id, USERS.c.name, OVERRIDES.c.starts_at, OVERRIDES.c.ends_at)
        .join(USERS, USERS.c.id == OVERRIDES.c.user_id)
        .where(OVERRIDES.c.schedule_id.in_([row.id for row in rows]))
        .order_by(OVERRIDES.c.id)
    ):
        overrides.setdefault(row.schedule_id, []).append(
            OverrideSpec(row.name, as_utc(row.starts_at), as_utc(row.ends_at))
        )
    return [
        ScheduleSpec(
            row.name,
            row.time_zone,
            tuple(row.users),
            row.length,
            row.handoff,
            tuple(overrides.get(row.id, ())),
        )  # fmt: skip
        for row in rows
    ]


def schedule_on_connection(connection: Connection, name: str) -> ScheduleSpec | None:
    found = _specs(connection, name)
    return found[0] if found else None


def on_call_now(connection: Connection, name: str, now: datetime) -> OnCall | None:
    """The escalation's question when a step fires: who is on call, and their email
    (decrypted, in memory only); None when no schedule has that name."""
    spec = schedule_on_connection(connection, name)
    if spec is None:
        return None
    shift = spec.on_call(now)
    email = connection.execute(select(USERS.c.email).where(USERS.c.name == shift.user)).scalar()
    return OnCall(shift, email)


def list_schedules(database: Database, actor: UserView | None = None) -> list[ScheduleSpec]:
    if actor is not None:
        require_current(database, actor, "view_connections")
    with database.read() as session:
        return _specs(session.connection())


def get_schedule(database: Database, name: str, actor: UserView | None = None) -> ScheduleSpec:
    if actor is not None:
        require_current(database, actor, "view_connections")
    with database.read() as session:
        spec = schedule_on_connection(session.connection(), name)
        known = (
            [] if spec else list(session.connection().execute(select(SCHEDULES.c.name)).scalars())
        )
    if spec is None:
        raise ScheduleError(
            f"no schedule {name!r} (the schedules: {', '.join(sorted(known)) or 'none yet'})"
        )
    return spec


def who_is_on_call(
    database: Database, actor: UserView, name: str, at: datetime | None = None,
    *, clock: Clock = utc_now,
) -> OnCall:  # fmt: skip
    spec = get_schedule(database, name, actor)
    shift = spec.on_call(at or clock())
    with database.read() as session:
        email = session.connection().execute(
            select(USERS.c.email).where(USERS.c.name == shift.user)
        ).scalar()  # fmt: skip
    return OnCall(shift, email)


def _user_ids(connection: Connection, names: Sequence[str], where: str, key: str) -> dict[str, int]:
    found = dict(
        connection.execute(
            select(USERS.c.name, USERS.c.id).where(USERS.c.name.in_(set(names)))
        ).all()
    )
    missing = [name for name in names if name not in found]
    if missing:
        raise ScheduleError(
            f"{where}: {key}: {missing[0]!r} is not a mailsiren user (mailsiren users list)"
        )
    return found


def write_schedule(session: Session, spec: ScheduleSpec, actor: UserView, now: datetime,
                   where: str | None = None) -> bool:  # fmt: skip
    """Create or replace by name in the open session, its overrides the spec's; True if new."""
    connection = session.connection()
    where = where or f"schedule {spec.name}"
    _user_ids(connection, spec.users, where, "rotation.users")
    ids = _user_ids(connection, [o.user for o in spec.overrides], where, "override.user")
    row = connection.execute(select(SCHEDULES.c.id).where(SCHEDULES.c.name == spec.name)).first()
    values = {
        "name": spec.name, "time_zone": spec.time_zone, "users": list(spec.users),
        "length": spec.length, "handoff": spec.handoff, "updated_at": now,
    }  # fmt: skip
    if row is None:
        schedule_id = connection.execute(insert(SCHEDULES).values(**values)).inserted_primary_key[0]
    else:
        schedule_id = row.id
        connection.execute(SCHEDULES.update().where(SCHEDULES.c.id == row.id).values(**values))
        connection.execute(delete(OVERRIDES).where(OVERRIDES.c.schedule_id == row.id))
    for override in spec.overrides:
        connection.execute(
            insert(OVERRIDES).values(
                schedule_id=schedule_id, user_id=ids[override.user], starts_at=override.starts_at,
                ends_at=override.ends_at, created_by=actor.name, created_at=now,
            )
        )  # fmt: skip
    return row is None


def save_schedule(
    database: Database, actor: UserView, spec: ScheduleSpec, *, clock: Clock = utc_now
) -> ScheduleSpec:
    """Create or replace a schedule (permission `edit_connections`)."""
    require_current(database, actor, "edit_connections")
    with database.write() as session:
        write_schedule(session, spec, actor, clock())
    return get_schedule(database, spec.name)


def add_override(
    database: Database, actor: UserView, name: str, user: str, starts_at: datetime,
    ends_at: datetime, *, clock: Clock = utc_now,
) -> OnCall:  # fmt: skip
    """`schedules override`: `user` on call from `starts_at` to `ends_at` (permission
    `edit_connections`); returns who is on call at the override's start."""
    require_current(database, actor, "edit_connections")
    now = clock()
    starts_at, ends_at = starts_at.replace(microsecond=0), ends_at.replace(microsecond=0)
    where = f"schedule {name}: override"
    check_override_window(starts_at, ends_at, where)
    if ends_at <= now:
        raise ScheduleError(f"{where}: it would end at {_iso(ends_at)}, in the past")
    get_schedule(database, name)
    with database.write() as session:
        connection = session.connection()
        user_id = _user_ids(connection, [user], where, "user")[user]
        schedule_id = connection.execute(
            select(SCHEDULES.c.id).where(SCHEDULES.c.name == name)
        ).scalar_one()
        connection.execute(
            insert(OVERRIDES).values(
                schedule_id=schedule_id, user_id=user_id, starts_at=starts_at, ends_at=ends_at,
                created_by=actor.name, created_at=now,
            )
        )  # fmt: skip
    return who_is_on_call(database, actor, name, max(starts_at, now))


def schedule_target(target: str) -> str | None:
    """The schedule's name if an escalation target is `schedule:NAME`, else None."""
    if target.lower().startswith(TARGET_PREFIX):
        return target[len(TARGET_PREFIX) :].strip()
    return None
