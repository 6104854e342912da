"""`mailsiren silences add|list|end`: maintenance windows that page nobody (SPEC §10)."""

from __future__ import annotations

import argparse
from datetime import datetime

from app.cli.common import EXIT_OK, add_command, opened_workspace, print_json


def register(commands) -> None:
    silences = add_command(
        commands, "silences", "maintenance windows: mails are processed, nobody is paged",
        "mailsiren silences add --source nagios --for 2h --reason 'db upgrade'",
        "mailsiren silences list",
        "mailsiren silences end 3",
    )  # fmt: skip
    actions = silences.add_subparsers(dest="silences_command", metavar="ACTION", required=True)
    adding = add_command(
        actions, "add", "silence a source (or every source) for a while",
        "mailsiren silences add --source nagios --for 90m --reason 'db upgrade'",
        "mailsiren silences add --all --until 18:00 --match web0 --reason 'web deploy'",
        "mailsiren silences add --source nagios --starts 22:00 --for 2h --reason 'patching'",
        handler=run_silences_add,
    )  # fmt: skip
    scope = adding.add_mutually_exclusive_group(required=True)
    scope.add_argument("--source", metavar="NAME", help="the alert source to silence")
    scope.add_argument("--all", action="store_true", help="silence every source")
    adding.add_argument(
        "--match", metavar="RE", help="only mails whose subject this RE2 finds (any case)"
    )
    end = adding.add_mutually_exclusive_group(required=True)
    end.add_argument("--for", dest="duration", metavar="DURATION", help="90m, 2h, 1d, 1h30m")
    end.add_argument(
        "--until", metavar="TIME", help="HH:MM (local, the next one) or 2026-12-02T18:00"
    )
    adding.add_argument("--starts", metavar="TIME", help="when it starts (default: now)")
    adding.add_argument("--reason", required=True, help="what the maintenance is")
    listing = add_command(
        actions, "list", "the silences active now and to come",
        "mailsiren silences list", "mailsiren silences list --all --json",
        handler=run_silences_list,
    )  # fmt: skip
    listing.add_argument("--all", action="store_true", help="include the ended ones")
    listing.add_argument("--json", action="store_true", help="print JSON")
    ending = add_command(
        actions, "end", "end a silence now: what it held and is open is paged now",
        "mailsiren silences end 3", handler=run_silences_end,
    )  # fmt: skip
    ending.add_argument("id", type=int, help="the silence's number (silences list)")


def run_silences_add(arguments: argparse.Namespace) -> int:
    from app.core.incidents.silences import add_silence, read_window
    from app.core.store.db import utc_now

    starts_at, ends_at = read_window(
        utc_now(), starts=arguments.starts, duration=arguments.duration, until=arguments.until
    )
    with opened_workspace() as workspace:
        silence = add_silence(
            workspace.database, workspace.user, source=None if arguments.all else arguments.source,
            starts_at=starts_at, ends_at=ends_at, reason=arguments.reason, match=arguments.match,
        )  # fmt: skip
    pages = (
        "nobody is paged until it ends"
        if silence.starts_at <= utc_now()
        else f"from {_when(silence.starts_at)} nobody is paged until it ends"
    )
    print(
        f"Silence #{silence.id}: {silence.scope()}, {_when(silence.starts_at)} to "
        f"{_when(silence.ends_at)} ({silence.reason}). Mails are processed; {pages} "
        f"(mailsiren silences end {silence.id})."
    )
    return EXIT_OK


def run_silences_list(arguments: argparse.Namespace) -> int:
    from app.core.incidents.silences import list_silences
    from app.core.store.db import utc_now

    with opened_workspace() as workspace:
        silences = list_silences(workspace.database, include_ended=arguments.all)
    if arguments.json:
        print_json([silence.to_dict() for silence in silences])
        return EXIT_OK
    if not silences:
        print("No silence is active or to come (mailsiren silences add).")
        return EXIT_OK
    now = utc_now()
    for silence in silences:
        if silence.is_active(now):
            state = "active"
        else:
            state = "ended" if silence.ends_at <= now else "to come"
        print(
            f"#{silence.id:<4} {state:<8} {_when(silence.starts_at)} → {_when(silence.ends_at)}  "
            f"{silence.scope()}  holds {silence.held}  {silence.reason}  (by {silence.created_by})"
        )
    return EXIT_OK


def run_silences_end(arguments: argparse.Namespace) -> int:
    from app.core.incidents.silences import end_silence

    with opened_workspace() as workspace:
        silence = end_silence(workspace.database, workspace.user, arguments.id)
    print(f"Silence #{silence.id} ended; what it held and is still open is paged now.")
    return EXIT_OK


def _when(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")
