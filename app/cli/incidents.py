"""`mailsiren incidents ...`, `mailsiren mails list` and `mailsiren config import|export`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.common import EXIT_OK, CommandError, add_command, opened_workspace, print_json
from app.core.names import INCIDENT_STATE_FILTERS as STATE_FILTERS
from app.core.names import MAIL_OUTCOMES


def register(commands) -> None:
    incidents = add_command(
        commands, "incidents", "list, show and triage incidents",
        "mailsiren incidents list", "mailsiren incidents accept 42",
    )  # fmt: skip
    actions = incidents.add_subparsers(dest="incidents_command", metavar="ACTION", required=True)
    listing = add_command(
        actions,
        "list",
        "list incidents, newest first",
        "mailsiren incidents list",
        "mailsiren incidents list --state all --source nagios --json",
        handler=run_incidents_list,
    )
    listing.add_argument("--state", choices=STATE_FILTERS, default="open")
    listing.add_argument("--source", help="only this source's incidents")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = add_command(
        actions, "show", "one incident and its timeline", "mailsiren incidents show 42",
        handler=run_incidents_show,
    )  # fmt: skip
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true", help="print JSON")
    for action in ("accept", "resolve", "reopen"):
        command = add_command(
            actions, action, f"{action} incidents (all or none)",
            f"mailsiren incidents {action} 42 43", handler=run_incidents_change,
        )  # fmt: skip
        command.add_argument("ids", type=int, nargs="+", metavar="ID")
        command.set_defaults(action=action)

    mails = add_command(
        commands, "mails", "the log of received mail",
        "mailsiren mails list --outcome filtered",
    )  # fmt: skip
    actions = mails.add_subparsers(dest="mails_command", metavar="ACTION", required=True)
    listing = add_command(
        actions,
        "list",
        "received mails and what each did, newest first",
        "mailsiren mails list --outcome filtered",
        "mailsiren mails list --source nagios --json",
        handler=run_mails_list,
    )
    listing.add_argument("--source")
    listing.add_argument("--outcome", choices=MAIL_OUTCOMES)
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true", help="print JSON")

    config = add_command(
        commands, "config", "the configuration (org, policies, sources, integrations) as TOML",
        "mailsiren config export > mailsiren.toml", "mailsiren config import mailsiren.toml",
    )  # fmt: skip
    actions = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    add_command(
        actions, "export", "print the configuration as TOML", "mailsiren config export > sources.toml",
        handler=run_config_export,
    )  # fmt: skip
    importing = add_command(
        actions,
        "import",
        "create or update sources from a TOML file, validated whole first",
        "mailsiren config import sources.toml",
        "mailsiren config import sources.toml --prune   (delete sources not in the file)",
        handler=run_config_import,
    )
    importing.add_argument("file", type=Path)
    importing.add_argument(
        "--prune",
        action="store_true",
        help="delete sources, policies and integrations not in the file",
    )


def run_incidents_list(arguments: argparse.Namespace) -> int:
    from app.core.incidents.views import list_incidents

    with opened_workspace() as workspace:
        views = list_incidents(
            workspace.database,
            state=arguments.state,
            source=arguments.source,
            limit=arguments.limit,
        )
    if arguments.json:
        print_json([view.to_json() for view in views])
        return EXIT_OK
    for view in views:
        who = view.accepted_by or view.resolved_by or ""
        print(
            f"#{view.id:<6} {view.state:<9} {view.severity:<8} {view.source:<14} "
            f"{view.mail_count:>4}✉  {view.updated_at}  {view.title}  {who}".rstrip()
        )
    if not views:
        print(f"No {arguments.state} incidents.")
    return EXIT_OK


def run_incidents_show(arguments: argparse.Namespace) -> int:
    from app.core.incidents.views import show_incident

    with opened_workspace() as workspace:
        detail = show_incident(workspace.database, arguments.id)
    if arguments.json:
        print_json(detail.to_json())
        return EXIT_OK
    view = detail.incident
    print(f"#{view.id} {view.title}")
    for label, value in (
        ("state", view.state), ("severity", view.severity), ("source", view.source),
        ("key", view.key or "-"), ("mails", view.mail_count), ("created", view.created_at),
        ("updated", view.updated_at), ("accepted by", view.accepted_by or "-"),
        ("resolved by", view.resolved_by or "-"),
    ):  # fmt: skip
        print(f"{label:>12}  {value}")
    print("timeline:")
    for entry in detail.timeline:
        actor = f" by {entry.actor}" if entry.actor else ""
        print(f"  {entry.at}  {entry.kind}{actor}: {entry.detail}")
    return EXIT_OK


def run_incidents_change(arguments: argparse.Namespace) -> int:
    from app.core.incidents.views import change_state

    with opened_workspace() as workspace:
        views = change_state(workspace.database, workspace.user, arguments.action, arguments.ids)
    for view in views:
        print(f"#{view.id} is {view.state}.")
    return EXIT_OK


def run_mails_list(arguments: argparse.Namespace) -> int:
    from app.core.incidents.views import list_mails

    with opened_workspace() as workspace:
        views = list_mails(
            workspace.database,
            source=arguments.source,
            outcome=arguments.outcome,
            limit=arguments.limit,
        )
    if arguments.json:
        print_json([view.to_json() for view in views])
        return EXIT_OK
    for view in views:
        incident = f"#{view.incident_id}" if view.incident_id else "-"
        print(
            f"{view.id:<6} {view.received_at}  {view.source or '-':<14} {view.outcome:<14} "
            f"{incident:<7} {view.subject}  ({view.reason})"
        )
    return EXIT_OK


def run_config_export(_arguments: argparse.Namespace) -> int:
    from app.core.configfile import export_config

    with opened_workspace() as workspace:
        sys.stdout.write(export_config(workspace.database))
    return EXIT_OK


def run_config_import(arguments: argparse.Namespace) -> int:
    from app.core.configfile import import_config

    try:
        text = arguments.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"{arguments.file}: cannot be read: {error}") from error
    with opened_workspace() as workspace:
        report = import_config(
            workspace.database,
            workspace.user,
            text,
            prune=arguments.prune,
            origin=str(arguments.file),
        )
    for label, names in (
        ("created", report.created), ("updated", report.updated), ("deleted", report.pruned),
    ):  # fmt: skip
        if names:
            print(f"{label}: {', '.join(names)}")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for section in report.ignored:
        print(
            f"warning: [{section}] was not imported: this version of mailsiren does not "
            "manage it from a file yet",
            file=sys.stderr,
        )
    return EXIT_OK
