"""`mailsiren incidents list|show|accept|resolve|reopen|note|assign`: the incidents, and triage."""

from __future__ import annotations

import argparse

from app.cli.common import EXIT_OK, add_command, opened_workspace, print_json
from app.core.names import INCIDENT_STATE_FILTERS as STATE_FILTERS


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
    note = add_command(
        actions, "note", "write a note on an incident's timeline (what you found, what you did)",
        "mailsiren incidents note 42 'disk full: rotated logs on web01'",
        "echo 'long note' | mailsiren incidents note 42 -", handler=run_incidents_note,
    )  # fmt: skip
    note.add_argument("id", type=int)
    note.add_argument("text", help="the note (at most 4,000 characters); - reads standard input")
    assign = add_command(
        actions, "assign", "give an incident an owner, or none",
        "mailsiren incidents assign 42 bob", "mailsiren incidents assign 42 --none",
        handler=run_incidents_assign,
    )  # fmt: skip
    assign.add_argument("id", type=int)
    whom = assign.add_mutually_exclusive_group(required=True)
    whom.add_argument("user", nargs="?", help="a mailsiren user's name")
    whom.add_argument("--none", action="store_true", help="take its owner away")


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
        if view.assignee:
            who = f"{who} (owner {view.assignee})".strip()
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
        ("resolved by", view.resolved_by or "-"), ("assignee", view.assignee or "-"),
        ("replies", view.reply_count),
    ):  # fmt: skip
        print(f"{label:>12}  {value}")
    print("timeline:")
    for entry in detail.timeline:
        actor = f" by {entry.actor}" if entry.actor else ""
        said = entry.detail.replace("\n", "\n" + " " * 6)  # a note's lines, indented
        print(f"  {entry.at}  {entry.kind}{actor}: {said}")
    if detail.replies:
        print("replies:")
    for reply in detail.replies:
        print(f"  {reply.at}  mail {reply.mail_id} from {reply.from_}")
        for line in reply.first_lines:
            print(f"      {line}")
    return EXIT_OK


def run_incidents_note(arguments: argparse.Namespace) -> int:
    import sys

    from app.core.incidents.views import note_incident

    text = sys.stdin.read() if arguments.text == "-" else arguments.text
    with opened_workspace() as workspace:
        note_incident(workspace.database, workspace.user, arguments.id, text)
    print(f"Note written on #{arguments.id}.")
    return EXIT_OK


def run_incidents_assign(arguments: argparse.Namespace) -> int:
    from app.core.incidents.views import assign_incident

    assignee = None if arguments.none else arguments.user
    with opened_workspace() as workspace:
        changed = assign_incident(workspace.database, workspace.user, arguments.id, assignee)
    if not changed:
        print(f"#{arguments.id} already has {f'owner {assignee}' if assignee else 'no owner'}.")
    elif assignee:
        print(f"#{arguments.id} is assigned to {assignee}.")
    else:
        print(f"#{arguments.id} has no owner now.")
    return EXIT_OK


def run_incidents_change(arguments: argparse.Namespace) -> int:
    from app.core.incidents.views import change_state

    with opened_workspace() as workspace:
        views = change_state(workspace.database, workspace.user, arguments.action, arguments.ids)
    for view in views:
        print(f"#{view.id} is {view.state}.")
    return EXIT_OK
