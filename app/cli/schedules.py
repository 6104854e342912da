"""`mailsiren schedules list|who|show|override`: who is on call (SPEC §18)."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from app.cli.common import EXIT_OK, add_command, opened_workspace, print_json

if TYPE_CHECKING:
    from app.core.incidents.schedules import ScheduleSpec, Shift


def register(commands) -> None:
    schedules = add_command(
        commands, "schedules", "on-call schedules: rotations, overrides, who is on call",
        "mailsiren schedules list",
        "mailsiren schedules who primary",
        "mailsiren schedules show primary --days 14",
        "mailsiren schedules override primary --user dave --for 8h",
    )  # fmt: skip
    actions = schedules.add_subparsers(dest="schedules_command", metavar="ACTION", required=True)
    listing = add_command(
        actions, "list", "the schedules, and who is on call in each now",
        "mailsiren schedules list", "mailsiren schedules list --json",
        handler=run_schedules_list,
    )  # fmt: skip
    listing.add_argument("--json", action="store_true", help="print JSON")
    who = add_command(
        actions, "who", "who is on call in a schedule, now or at a time",
        "mailsiren schedules who primary",
        "mailsiren schedules who primary --at 2026-12-24T20:00 --json",
        handler=run_schedules_who,
    )  # fmt: skip
    who.add_argument("name", help="the schedule's name (schedules list)")
    who.add_argument("--at", metavar="TIME", help="HH:MM (local, the next one) or 2026-12-24T20:00")
    who.add_argument("--json", action="store_true", help="print JSON (times ISO 8601 UTC)")
    show = add_command(
        actions, "show", "a schedule's next shifts, in its local time",
        "mailsiren schedules show primary", "mailsiren schedules show primary --days 28",
        handler=run_schedules_show,
    )  # fmt: skip
    show.add_argument("name", help="the schedule's name (schedules list)")
    show.add_argument("--days", type=int, default=7, metavar="N", help="how far ahead (default 7)")
    override = add_command(
        actions, "override", "put someone on call instead of the rotation, for a while",
        "mailsiren schedules override primary --user dave --for 8h",
        "mailsiren schedules override primary --user dave --from 2026-12-24T18:00 "
        "--until 2026-12-25T09:00",
        handler=run_schedules_override,
    )  # fmt: skip
    override.add_argument("name", help="the schedule's name (schedules list)")
    override.add_argument("--user", required=True, help="the mailsiren user on call instead")
    override.add_argument("--for", dest="duration", metavar="DURATION", help="8h, 90m, 1d, 1h30m")
    override.add_argument(
        "--from", dest="starts", metavar="TIME", help="when it starts (default: now)"
    )
    override.add_argument(
        "--until", metavar="TIME", help="HH:MM (local, the next one) or 2026-12-25T09:00"
    )


def run_schedules_list(arguments: argparse.Namespace) -> int:
    from app.core.incidents.schedules import list_schedules, who_is_on_call

    with opened_workspace() as workspace:
        specs = list_schedules(workspace.database, workspace.user)
        now = [who_is_on_call(workspace.database, workspace.user, spec.name) for spec in specs]
    if arguments.json:
        print_json(
            [
                spec.to_dict() | {"on_call": who.to_dict()}
                for spec, who in zip(specs, now, strict=True)
            ]
        )
        return EXIT_OK
    if not specs:
        print("No schedule yet: add a [[schedule]] with `mailsiren config import` (see README).")
        return EXIT_OK
    for spec, who in zip(specs, now, strict=True):
        print(
            f"{spec.name}  {spec.time_zone}  every {spec.length}: {', '.join(spec.users)}  "
            f"now {who.shift.user}{' (override)' if who.shift.override else ''} until "
            f"{_local(spec, who.shift.ends_at)}"
        )
    return EXIT_OK


def run_schedules_who(arguments: argparse.Namespace) -> int:
    from app.core.incidents.schedules import get_schedule, who_is_on_call
    from app.core.incidents.silences import parse_moment
    from app.core.store.db import utc_now

    at = parse_moment(arguments.at, utc_now()) if arguments.at else None
    with opened_workspace() as workspace:
        on_call = who_is_on_call(workspace.database, workspace.user, arguments.name, at)
        spec = get_schedule(workspace.database, arguments.name)
    if arguments.json:
        print_json(on_call.to_dict())
        return EXIT_OK
    shift = on_call.shift
    print(
        f"{shift.user} is on call in {shift.schedule}"
        f"{' (an override)' if shift.override else ''}, {_local(spec, shift.starts_at)} to "
        f"{_local(spec, shift.ends_at)} ({spec.time_zone}); paged at "
        f"{on_call.email or 'no address (mailsiren users set ' + shift.user + ' --email ...)'}."
    )
    return EXIT_OK


def run_schedules_show(arguments: argparse.Namespace) -> int:
    from app.core.incidents.schedules import ScheduleError, get_schedule
    from app.core.store.db import utc_now

    if not 1 <= arguments.days <= 366:
        raise ScheduleError("--days: from 1 to 366")
    with opened_workspace() as workspace:
        spec = get_schedule(workspace.database, arguments.name, workspace.user)
    now = utc_now()
    print(f"{spec.name}: every {spec.length} ({', '.join(spec.users)}), times in {spec.time_zone}")
    for shift in spec.shifts(now, now + timedelta(days=arguments.days)):
        print(_shift_line(spec, shift))
    return EXIT_OK


def run_schedules_override(arguments: argparse.Namespace) -> int:
    from app.core.incidents.schedules import ScheduleError, add_override
    from app.core.incidents.silences import parse_duration, parse_moment
    from app.core.store.db import utc_now

    if bool(arguments.duration) == bool(arguments.until):
        raise ScheduleError(
            "An override needs an end, given once: --for DURATION (8h, 90m) or --until TIME "
            "(18:00, 2026-12-25T09:00)."
        )
    now = utc_now()
    starts_at = parse_moment(arguments.starts, now) if arguments.starts else now
    if arguments.duration:
        ends_at = starts_at + parse_duration(arguments.duration)
    else:
        ends_at = parse_moment(arguments.until, now)
    with opened_workspace() as workspace:
        on_call = add_override(
            workspace.database, workspace.user, arguments.name, arguments.user, starts_at, ends_at
        )
    zone = starts_at.astimezone().tzname()
    print(
        f"{arguments.user} is on call in {arguments.name} instead of the rotation from "
        f"{_local_host(starts_at)} to {_local_host(ends_at)} ({zone})."
    )
    if on_call.shift.user != arguments.user:  # not expected: the newest override wins
        print(f"Yet at its start the schedule says {on_call.shift.user} is on call: check it "
              f"with `mailsiren schedules show {arguments.name}`.")  # fmt: skip
    return EXIT_OK


def _shift_line(spec: ScheduleSpec, shift: Shift) -> str:
    flag = "  (override)" if shift.override else ""
    return f"  {_local(spec, shift.starts_at)} → {_local(spec, shift.ends_at)}  {shift.user}{flag}"


def _local(spec: ScheduleSpec, moment: datetime) -> str:
    return moment.astimezone(spec.zone).strftime("%a %Y-%m-%d %H:%M")


def _local_host(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")
