"""`mailsiren integrations list|add|remove`: the addresses that receive incident events."""

from __future__ import annotations

import argparse
import sys

from app.cli.common import EXIT_OK, CommandError, add_command, opened_workspace, print_json
from app.core.names import FREQUENCIES, LEVELS


def register(commands) -> None:
    integrations = add_command(
        commands, "integrations", "email integrations: addresses that receive incident events",
        "mailsiren integrations list",
        "mailsiren integrations add --address ops@example.com --level warning --and-above",
    )  # fmt: skip
    actions = integrations.add_subparsers(
        dest="integrations_command", metavar="ACTION", required=True
    )
    listing = add_command(
        actions, "list", "every integration with its delivery health",
        "mailsiren integrations list", "mailsiren integrations list --json",
        handler=run_integrations_list,
    )  # fmt: skip
    listing.add_argument("--json", action="store_true", help="print JSON")
    adding = add_command(
        actions, "add", "route incidents of a level to an address",
        "mailsiren integrations add --address ops@example.com --level all",
        "mailsiren integrations add --address oncall@example.com --level warning --and-above",
        "mailsiren integrations add --address team@example.com --level all --frequency daily "
        "--digest-at 08:30",
        handler=run_integrations_add,
    )  # fmt: skip
    adding.add_argument("--address", required=True)
    adding.add_argument("--level", choices=LEVELS, required=True, help="Notification Type")
    adding.add_argument(
        "--and-above", action="store_true", help="the level and every worse severity"
    )
    adding.add_argument(
        "--frequency", choices=FREQUENCIES, default="instant",
        help="instant: a mail per event; hourly, daily: one digest mail per period",
    )  # fmt: skip
    adding.add_argument("--digest-at", metavar="HH:MM", help="a daily digest's time (local; 08:00)")
    adding.add_argument("--owner", help="whose SMTP configuration sends it (default: you)")
    adding.add_argument(
        "--yes", action="store_true", help="answer yes to the duplicate/external questions"
    )
    removing = add_command(
        actions, "remove", "delete integrations by #id or by address",
        "mailsiren integrations remove '#3'", "mailsiren integrations remove ops@example.com --yes",
        handler=run_integrations_remove,
    )  # fmt: skip
    removing.add_argument("which", metavar="ID_OR_ADDRESS")
    removing.add_argument(
        "--yes", action="store_true", help="remove every entry with that address without asking"
    )


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def run_integrations_list(arguments: argparse.Namespace) -> int:
    from app.core.notifications.integrations import list_integrations

    with opened_workspace() as workspace:
        views = list_integrations(workspace.database, workspace.user)
    if arguments.json:
        print_json([view.to_json() for view in views])
        return EXIT_OK
    if not views:
        print("No integrations. Add one: mailsiren integrations add --address A --level all")
    for view in views:
        state = "enabled" if view.enabled else "disabled"
        health = f"last sent {_when(view.last_success)}, last failure {_when(view.last_failure)}"
        if view.throttled_until:
            health += f", THROTTLED until {view.throttled_until:%H:%M:%S} UTC"
        print(
            f"#{view.id:<4} {view.address:<32} {view.level_text:<18} "
            f"{view.frequency + (f' {view.digest_at}' if view.digest_at else ''):<8} "
            f"{state:<9} owner {view.owner or '-'}; {health}"
        )
    return EXIT_OK


def run_integrations_add(arguments: argparse.Namespace) -> int:
    from app.core.notifications.integrations import (
        NeedsConfirmation,
        parse_integration,
        save_integration,
    )

    data = {
        "address": arguments.address,
        "level": arguments.level,
        "and_above": arguments.and_above,
        "frequency": arguments.frequency,
    }
    if arguments.digest_at:
        data["digest_at"] = arguments.digest_at
    if arguments.owner:
        data["owner"] = arguments.owner
    spec = parse_integration(data, "integration")
    with opened_workspace() as workspace:
        try:
            view = save_integration(
                workspace.database, workspace.user, spec, confirmed=arguments.yes
            )
        except NeedsConfirmation as question:
            if not _confirm(question.concerns):
                raise CommandError("nothing was saved") from None
            view = save_integration(workspace.database, workspace.user, spec, confirmed=True)
    print(f"Added #{view.id}: {view.address} receives {view.level_text} ({view.frequency}).")
    return EXIT_OK


def _confirm(concerns: tuple[str, ...]) -> bool:
    for concern in concerns:
        print(f"warning: {concern}", file=sys.stderr)
    if not sys.stdin.isatty():
        print("Not a terminal: pass --yes to go ahead.", file=sys.stderr)
        return False
    return input("Save anyway? [y/N] ").strip().lower() in ("y", "yes")


def run_integrations_remove(arguments: argparse.Namespace) -> int:
    from app.core.notifications.integrations import find_integrations, remove_integration

    with opened_workspace() as workspace:
        found = find_integrations(workspace.database, workspace.user, arguments.which)
        if len(found) > 1 and not arguments.yes:
            named = ", ".join(view.label() for view in found)
            if not _confirm((f"{arguments.which} matches {len(found)} entries: {named}.",)):
                raise CommandError("nothing was removed")
        for view in found:
            remove_integration(workspace.database, workspace.user, view.id)
            print(f"Removed {view.label()}.")
    return EXIT_OK
