"""`mailsiren mails list`: the log of received mail and what each one did."""

from __future__ import annotations

import argparse

from app.cli.common import EXIT_OK, add_command, opened_workspace, print_json
from app.core.names import MAIL_OUTCOMES


def register(commands) -> None:
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
            + (f"  silenced by #{view.silenced_by}" if view.silenced_by else "")
        )
    return EXIT_OK
