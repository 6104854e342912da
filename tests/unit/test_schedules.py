"""On-call schedules (SPEC §18): shifts on the zone's wall clock across daylight-saving
changes, the skipped and the doubled hour, many rounds later, and overrides that win."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.core.incidents.schedules import (
    OverrideSpec,
    ScheduleError,
    ScheduleSpec,
    add_override,
    get_schedule,
    parse_schedule,
    save_schedule,
    who_is_on_call,
)
from app.core.users import PermissionDenied, add_user
from tests.clock import Clock, time_zone

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def rotation(length: str, handoff: str, users=("ann", "bob", "cid"), overrides=()) -> ScheduleSpec:
    return ScheduleSpec("primary", "Europe/Berlin", tuple(users), length, handoff, tuple(overrides))


def test_a_weekly_handoff_stays_at_nine_local_across_the_spring_change():
    spec = rotation("1w", "2026-03-23T09:00")  # a Monday, CET (UTC+1)
    assert spec.shift_start(0) == utc(2026, 3, 23, 8)
    assert spec.shift_start(1) == utc(2026, 3, 30, 7)  # 09:00 CEST (UTC+2)
    assert spec.on_call(utc(2026, 3, 30, 6, 59)).user == "ann"
    assert spec.on_call(utc(2026, 3, 30, 7)).user == "bob"
    assert spec.shift_start(1) - spec.shift_start(0) == timedelta(hours=167)


def test_a_weekly_handoff_stays_at_nine_local_across_the_autumn_change():
    spec = rotation("1w", "2026-10-19T09:00")  # CEST
    assert spec.shift_start(1) == utc(2026, 10, 26, 8)  # 09:00 CET
    shift = spec.on_call(utc(2026, 10, 26, 7, 59))
    assert (shift.user, shift.starts_at, shift.ends_at) == (
        "ann", utc(2026, 10, 19, 7), utc(2026, 10, 26, 8),
    )  # fmt: skip
    assert spec.on_call(utc(2026, 10, 26, 8)).user == "bob"


def test_daily_and_twelve_hour_shifts_keep_their_local_times_across_the_spring_night():
    daily = rotation("1d", "2026-03-28T09:00")
    assert [daily.shift_start(k) for k in range(3)] == [
        utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), utc(2026, 3, 30, 7),
    ]  # fmt: skip
    halves = rotation("12h", "2026-03-28T21:00", users=("ann", "bob"))
    starts = [halves.shift_start(k) for k in range(3)]
    assert starts == [utc(2026, 3, 28, 20), utc(2026, 3, 29, 7), utc(2026, 3, 29, 19)]
    assert [s.astimezone(BERLIN).hour for s in starts] == [21, 9, 21]  # the night is 11 h
    assert halves.on_call(utc(2026, 3, 29, 6)).user == "ann"
    assert halves.on_call(utc(2026, 3, 29, 8)).user == "bob"
    assert halves.on_call(utc(2026, 3, 29, 20)).user == "ann"


def test_twelve_hour_shifts_across_the_autumn_night_last_thirteen_hours():
    halves = rotation("12h", "2026-10-24T21:00", users=("ann", "bob"))
    assert halves.shift_start(1) - halves.shift_start(0) == timedelta(hours=13)
    assert halves.shift_start(1).astimezone(BERLIN).hour == 9


def test_a_handoff_at_a_skipped_time_is_read_as_fold_0_gives_it_0330_local():
    daily = rotation("1d", "2026-03-27T02:30")
    skipped = daily.shift_start(2)  # 2026-03-29 02:30 does not exist in Berlin
    assert skipped == utc(2026, 3, 29, 1, 30)
    assert skipped.astimezone(BERLIN).strftime("%H:%M %Z") == "03:30 CEST"
    assert daily.shift_start(3).astimezone(BERLIN).strftime("%H:%M") == "02:30"
    assert daily.on_call(utc(2026, 3, 29, 1, 29)).user == "bob"
    assert daily.on_call(utc(2026, 3, 29, 1, 30)).user == "cid"


def test_a_handoff_at_a_doubled_time_is_its_first_occurrence():
    daily = rotation("1d", "2026-10-24T02:30")
    assert daily.shift_start(1) == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, not CET
    assert daily.shift_start(2) - daily.shift_start(1) == timedelta(hours=25)


def test_many_rounds_later_the_right_user_at_the_local_handoff():
    weekly = rotation("1w", "2026-01-05T09:00")  # a Monday
    moment = utc(2036, 7, 9, 12)  # a Wednesday ten years on, in summer time
    monday = datetime(2036, 7, 7).date()
    weeks = (monday - datetime(2026, 1, 5).date()).days // 7
    shift = weekly.on_call(moment)
    assert shift.user == ("ann", "bob", "cid")[weeks % 3]
    local = shift.starts_at.astimezone(BERLIN)
    assert (local.date(), local.hour, local.minute) == (monday, 9, 0)
    halves = rotation("12h", "2026-01-05T09:00", users=("ann", "bob"))
    later = halves.on_call(utc(2036, 1, 5, 8, 30))  # 09:30 CET, 7,305 rounds later
    assert (later.user, later.starts_at) == ("ann", utc(2036, 1, 5, 8))


def test_before_the_handoff_the_rotation_runs_backwards():
    weekly = rotation("1w", "2026-12-07T09:00")
    assert weekly.on_call(utc(2026, 12, 4, 12)).user == "cid"


def test_an_override_wins_while_it_lasts_and_cuts_the_rotations_shift():
    override = OverrideSpec("dave", utc(2026, 3, 24, 8), utc(2026, 3, 24, 20))
    weekly = rotation("1w", "2026-03-23T09:00", overrides=[override])
    during = weekly.on_call(utc(2026, 3, 24, 12))
    assert (during.user, during.override, during.ends_at) == ("dave", True, utc(2026, 3, 24, 20))
    after = weekly.on_call(utc(2026, 3, 25, 12))
    assert (after.user, after.override, after.starts_at) == ("ann", False, utc(2026, 3, 24, 20))
    shifts = weekly.shifts(utc(2026, 3, 23, 8), utc(2026, 3, 31))
    assert [(s.user, s.override) for s in shifts] == [
        ("ann", False), ("dave", True), ("ann", False), ("bob", False),
    ]  # fmt: skip
    assert shifts[3].starts_at == utc(2026, 3, 30, 7)


def test_a_schedule_with_an_outside_override_is_saved_and_read_back(database, user):
    clock = Clock(utc(2026, 3, 24, 6))
    for name in ("ann", "bob", "dave"):
        add_user(database, user, name, email=f"{name}@x.example")
    save_schedule(database, user, rotation("1w", "2026-03-23T09:00", users=("ann", "bob")))
    assert who_is_on_call(database, user, "primary", clock=clock).shift.user == "ann"
    on_call = add_override(
        database, user, "primary", "dave", utc(2026, 3, 24, 7), utc(2026, 3, 24, 19), clock=clock
    )
    assert on_call.to_dict() == {
        "schedule": "primary", "user": "dave", "email": "dave@x.example",
        "from": "2026-03-24T07:00:00Z", "until": "2026-03-24T19:00:00Z", "override": True,
    }  # fmt: skip
    assert get_schedule(database, "primary").overrides[0].user == "dave"
    clock.advance(hours=13)
    assert who_is_on_call(database, user, "primary", clock=clock).shift.user == "ann"


def test_saving_refuses_an_unknown_user_naming_the_key(database, user):
    with pytest.raises(ScheduleError, match=r"rotation.users: 'zed' is not a mailsiren user"):
        save_schedule(database, user, rotation("1w", "2026-03-23T09:00", users=("zed",)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rotation": {"users": [], "length": "1w", "handoff": "2026-12-07T09:00"}},
         r"\[\[schedule\]\] 1 \(primary\): rotation.users: must be a non-empty list"),
        ({"time_zone": "Mars/Olympus"}, r"\(primary\): time_zone: 'Mars/Olympus' is not an IANA"),
        ({"rotation": {"users": ["ann"], "length": "1 fortnight", "handoff": "2026-12-07T09:00"}},
         r"\(primary\): rotation.length: '1 fortnight' is not a shift length"),
        ({"rotation": {"users": ["ann"], "length": "1w", "handoff": "Monday 9am"}},
         r"\(primary\): rotation.handoff: 'Monday 9am' is not a local date"),
        ({"override": [{"user": "bob", "starts_at": utc(2026, 12, 9, 8),
                        "ends_at": utc(2026, 12, 9, 7)}]},
         r"\(primary\): override 1: ends_at \(2026-12-09T07:00:00Z\) is not after starts_at"),
    ],
)  # fmt: skip
def test_a_bad_schedule_entry_is_refused_naming_entry_and_key(change, message):
    entry = {
        "name": "primary", "time_zone": "Europe/Berlin",
        "rotation": {"users": ["ann"], "length": "1w", "handoff": "2026-12-07T09:00"},
    } | change  # fmt: skip
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(entry, "[[schedule]] 1")


def test_a_schedule_without_a_zone_takes_the_hosts():
    entry = {
        "name": "primary",
        "rotation": {"users": ["ann"], "length": "1d", "handoff": "2026-12-07T09:00"},
    }
    with time_zone("America/New_York"):
        assert parse_schedule(entry, "[[schedule]] 1").time_zone == "America/New_York"


def test_reading_needs_view_connections_and_an_override_edit_connections(database, user):
    add_user(database, user, "ann", email="ann@x.example")
    viewer = add_user(database, user, "vic", permissions=["view_connections"])
    nobody = add_user(database, user, "nia", permissions=["triage"])
    save_schedule(database, user, rotation("1d", "2026-11-20T09:00", users=("ann",)))
    assert who_is_on_call(database, viewer, "primary").shift.user == "ann"
    with pytest.raises(PermissionDenied, match="view_connections"):
        who_is_on_call(database, nobody, "primary")
    start = utc(2030, 1, 1)
    with pytest.raises(PermissionDenied, match="edit_connections"):
        add_override(database, viewer, "primary", "ann", start, start + timedelta(hours=1))
