"""Digests (SPEC §15): an hourly or daily integration's events go out as one mail per period.

An event for a digest integration is queued like any other, held until the period's end
(`held_until`, `digest` set); when it ends the dispatcher sends every held row of that
address as one mail, listing each incident, event and the state it is in now. Storm
control never holds a digest; an empty period sends nothing; the rows are the state, so a
restarted serve sends the period's digest once.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from app.core.notifications.notice import EVENT_WORDS, IncidentNotice, header_safe
from app.core.store.db import as_utc

DIGEST_AT = "08:00"  # a daily digest's time when digest_at is not given (local time)
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def check_digest_at(value: object) -> str:
    """`HH:MM`, 00:00 to 23:59; ValueError says how to write it."""
    if not isinstance(value, str) or not _CLOCK.match(value.strip()):
        raise ValueError(f"digest_at {value!r} is not a time of day: write it like 08:00")
    return value.strip()


def period_end(frequency: str, digest_at: str | None, now: datetime) -> datetime:
    """When the period an event at `now` falls in ends: the next full hour (hourly), or the
    next `digest_at` on the local clock (daily), in UTC."""
    if frequency == "hourly":
        start = as_utc(now).replace(minute=0, second=0, microsecond=0)
        return start + timedelta(hours=1)
    hour, minute = (int(part) for part in (digest_at or DIGEST_AT).split(":"))
    local_now = now.astimezone()
    day = local_now.date() + timedelta(days=time(hour, minute) <= local_now.time())
    return as_utc(datetime.combine(day, time(hour, minute)).astimezone())


def digest_subject(frequency: str, notices: list[IncidentNotice]) -> str:
    count = len(notices)
    return f"[mailsiren] {frequency} digest: {count} event{'s' if count != 1 else ''}"


def digest_body(frequency: str, notices: list[IncidentNotice]) -> str:
    """One line per event: the incident, what happened, and the state it is in now."""
    lines = [f"What happened since the last {frequency} digest:", ""]
    for notice in notices:
        lines.append(
            f"- #{notice.incident_id} {header_safe(notice.title, 120)}: "
            f"{EVENT_WORDS.get(notice.event, notice.event)}; now {notice.state} "
            f"({notice.severity}, source {notice.source})"
        )
    lines += [
        "",
        "Triage them in the mailsiren terminal UI (run `mailsiren`), or from a shell:",
        "  mailsiren incidents show ID",
        "",
        "-- ",
        "Sent by mailsiren.",
    ]
    return "\n".join(lines) + "\n"
