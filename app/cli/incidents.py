"""`mailsiren incidents list|show|tail|wait|accept|resolve|reopen|note|assign`: the incidents,
their changes as they happen, and triage."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import timedelta

from app.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    CommandError,
    add_command,
    closed_pipe,
    escaped,
    opened_workspace,
    print_json,
)
from app.core.names import INCIDENT_STATE_FILTERS as STATE_FILTERS

ASK_ABOVE = 10  # a --source selector changing more incidents asks y/n first, unless --yes
DONE = {"accept": "accepted", "resolve": "resolved"}  # for --help, without the core's import


def register(commands) -> None:
    incidents = add_command(
        commands, "incidents", "list, show and triage incidents",
        "mailsiren incidents list", "mailsiren incidents accept 42",
    )  # fmt: skip
    actions = incidents.add_subparsers(dest="incidents_command", metavar="ACTION", required=True)
    listing = add_command(
        actions,
        "list",
        "list incidents, the most recently changed first",
        "mailsiren incidents list",
        "mailsiren incidents list --state all --source nagios --json",
        handler=run_incidents_list,
    )
    listing.add_argument("--state", choices=STATE_FILTERS, default="open")
    listing.add_argument("--source", help="only this source's incidents")
    listing.add_argument("--limit", type=at_least_one, default=100, help="at most this many")
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = add_command(
        actions, "show", "one incident and its timeline", "mailsiren incidents show 42",
        handler=run_incidents_show,
    )  # fmt: skip
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true", help="print JSON")
    tail = add_command(
        actions, "tail", "print each incident change as it happens, until interrupted",
        "mailsiren incidents tail", "mailsiren incidents tail --source nagios --state open",
        "mailsiren incidents tail --json | jq -c 'select(.change == \"opened\")'",
        handler=run_incidents_tail,
    )  # fmt: skip
    tail.add_argument("--state", choices=STATE_FILTERS, default="all",
                      help="only changes of incidents now in this state (default: all)")  # fmt: skip
    tail.add_argument("--source", help="only this source's incidents")
    tail.add_argument("--json", action="store_true",
                      help="one JSON object per line: the incident's fields plus change")  # fmt: skip
    wait = add_command(
        actions, "wait", "wait until an incident is in a state: exit 0 then, 1 on timeout",
        "mailsiren incidents wait 42 --state resolved",
        "mailsiren incidents wait 42 --state accepted --timeout 15m && echo taken",
        handler=run_incidents_wait,
    )  # fmt: skip
    wait.add_argument("id", type=int)
    wait.add_argument("--state", choices=("pending", "accepted", "resolved", "open"),
                      required=True)  # fmt: skip
    wait.add_argument("--timeout", type=timeout_duration, metavar="DURATION",
                      help="give up after this long: 30s, 15m, 2h (default: wait for ever)")  # fmt: skip
    for action in ("accept", "resolve"):
        command = add_command(
            actions, action, f"{action} incidents: by id (all or none), or a source's by key",
            f"mailsiren incidents {action} 42 43",
            f"mailsiren incidents {action} --source nagios --key 'web01/*'",
            f"mailsiren incidents {action} --source nagios --yes   (every one, without asking)",
            handler=run_incidents_change,
        )  # fmt: skip
        command.add_argument("ids", type=int, nargs="*", metavar="ID")
        command.add_argument("--source", metavar="NAME",
                             help=f"instead of ids: the source's incidents that can be {DONE[action]}")  # fmt: skip
        command.add_argument("--key", metavar="GLOB",
                             help="with --source: only keys matching it (*, ?, [...])")  # fmt: skip
        command.add_argument("--yes", action="store_true",
                             help=f"change more than {ASK_ABOVE} without asking")  # fmt: skip
        command.set_defaults(action=action)
    reopen = add_command(
        actions, "reopen", "reopen resolved incidents (all or none)", "mailsiren incidents reopen 42",
        handler=run_incidents_change,
    )  # fmt: skip
    reopen.add_argument("ids", type=int, nargs="+", metavar="ID")
    reopen.set_defaults(action="reopen", source=None, key=None, yes=False)
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


def at_least_one(text: str) -> int:
    """A count of 1 or more, or argparse's usage error (exit 2)."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count of 1 or more")
    return count


def run_incidents_list(arguments: argparse.Namespace) -> int:
    from app.core.incidents.listing import list_incidents_plainly
    from app.core.workspace import read_plainly

    def listed(connection):
        return list_incidents_plainly(
            connection, state=arguments.state, source=arguments.source, limit=arguments.limit
        )

    views = read_plainly(listed)  # the driver alone: no SQLAlchemy to import
    if views is None:  # a first run, a schema to upgrade, a problem to say: the full open
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
        which = "" if arguments.state == "all" else f"{arguments.state} "
        of_source = f" of source {arguments.source!r}" if arguments.source else ""
        print(f"No {which}incidents{of_source}.")
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

    if arguments.source is not None or arguments.key is not None:
        return _change_selected(arguments)
    if not arguments.ids:
        raise CommandError(
            f"name the incidents to {arguments.action}: their ids, or --source NAME [--key GLOB]"
        )
    with opened_workspace() as workspace:
        views = change_state(workspace.database, workspace.user, arguments.action, arguments.ids)
    for view in views:
        print(f"#{view.id} is {view.state}.")
    return EXIT_OK


def _change_selected(arguments: argparse.Namespace) -> int:
    from app.core.incidents.lifecycle import EVENT_OF_ACTION
    from app.core.incidents.views import change_selected, selected_incidents

    done = EVENT_OF_ACTION[arguments.action]
    if arguments.ids:
        raise CommandError("give ids or --source, not both")
    if arguments.source is None:
        raise CommandError("--key chooses among a source's incidents: add --source NAME")
    what = f"{arguments.source}'s incidents" + (
        f" with keys matching {arguments.key!r}" if arguments.key else ""
    )
    with opened_workspace() as workspace:
        chosen = selected_incidents(
            workspace.database, arguments.action, arguments.source, arguments.key
        )
        if not chosen:
            print(f"No {what} can be {done}: nothing was changed.")
            return EXIT_OK
        if (
            len(chosen) > ASK_ABOVE
            and not arguments.yes
            and not _confirmed(f"{arguments.action} {len(chosen):,} of {what}?")
        ):
            print("Nothing was changed.")
            return EXIT_FAILURE
        ids = [view.id for view in chosen]
        changed = change_selected(workspace.database, workspace.user, arguments.action, ids)
    print(f"{len(changed):,} {'incident' if len(changed) == 1 else 'incidents'} {done}: "
          + ", ".join(f"#{incident_id}" for incident_id in changed) + ".")  # fmt: skip
    if missed := len(ids) - len(changed):
        print(f"{missed:,} changed meanwhile (someone else or a mail) and were left as they are.")
    return EXIT_OK


def _confirmed(question: str) -> bool:
    """y/n on the terminal; refused (with how to go on) when no one is there to answer."""
    if not sys.stdin.isatty():
        raise CommandError(f"{question[:-1]}: more than {ASK_ABOVE}, and no terminal to ask "
                           "y/n on; add --yes to go ahead")  # fmt: skip
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


def timeout_duration(text: str) -> timedelta:
    """`30s`, `90m`, `2h`, `1d` (argparse names a bad one as a usage error)."""
    from app.core.incidents.silences import parse_duration
    from app.errors import MailsirenError

    if seconds := re.fullmatch(r"\s*(\d+)\s*s\s*", text or ""):
        return timedelta(seconds=int(seconds.group(1)))
    try:
        return parse_duration(text)
    except MailsirenError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: write it like 30s, 15m, 2h or 1d"
        ) from None


def run_incidents_tail(arguments: argparse.Namespace) -> int:
    from app.core.incidents.feed import IncidentFeed

    with opened_workspace() as workspace:
        feed = IncidentFeed(workspace.database, state=arguments.state, source=arguments.source)
        print("Following incident changes; ctrl+c ends.", file=sys.stderr, flush=True)
        try:
            for change in feed.follow(stop=_reader_gone):
                if arguments.json:
                    line = escaped(json.dumps(change.to_json(), ensure_ascii=False))
                else:
                    view = change.incident
                    at = change.at.partition(".")[0].removesuffix("Z") + "Z"  # to the second
                    line = (f"{at}  #{view.id} {change.change:<10} {view.state:<9} "
                            f"{view.severity:<8} {view.source}  {view.title}")  # fmt: skip
                sys.stdout.write(line + "\n")
                sys.stdout.flush()  # a line as it happens, also into a pipe
        except KeyboardInterrupt:
            return EXIT_OK  # ctrl+c is how a tail ends
        except BrokenPipeError:
            return closed_pipe()
    return closed_pipe()  # only a reader gone stops the feed


def _reader_gone() -> bool:
    """Standard output is a pipe whose reader has closed it (`| head` done, a consumer
    killed): seen while the feed is quiet, not only at the next line written."""
    import os
    import select
    import stat

    out = sys.__stdout__.fileno()
    if not stat.S_ISFIFO(os.fstat(out).st_mode):
        return False
    poller = select.poll()
    poller.register(out, 0)  # no event asked: POLLERR and POLLHUP are always reported
    return any(event & (select.POLLERR | select.POLLHUP) for _fd, event in poller.poll(0))


def run_incidents_wait(arguments: argparse.Namespace) -> int:
    from app.core.incidents.feed import wait_for_state

    with opened_workspace() as workspace:
        reached, state = wait_for_state(
            workspace.database, arguments.id, arguments.state, timeout=arguments.timeout
        )
    if reached:
        print(f"#{arguments.id} is {state}.")
        return EXIT_OK
    waited = int(arguments.timeout.total_seconds())
    print(f"#{arguments.id} is still {state}: not {arguments.state} after {waited:,} s.",
          file=sys.stderr)  # fmt: skip
    return EXIT_FAILURE
