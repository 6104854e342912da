"""`mailsiren mails list|show`: the log of received mail, what each one did, and one mail whole."""

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
    show = add_command(
        actions, "show", "one mail: its headers, what it did for each source, its text",
        "mailsiren mails show 42", "mailsiren mails show 42 --raw > mail.eml",
        handler=run_mails_show,
    )  # fmt: skip
    show.add_argument("id", type=int)
    how = show.add_mutually_exclusive_group()
    how.add_argument(
        "--raw", action="store_true",
        help="the stored bytes, unchanged (into a pipe or a file; on a terminal its "
        "control characters are shown, not acted on)",
    )  # fmt: skip
    how.add_argument("--json", action="store_true", help="print JSON")


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


def run_mails_show(arguments: argparse.Namespace) -> int:
    import sys

    from app.core.incidents.log import stored_mail

    with opened_workspace() as workspace:
        mail = stored_mail(workspace.database, arguments.id)
    if arguments.raw:
        if sys.stdout.isatty():  # a mail never drives the operator's terminal
            print(mail.raw.decode("utf-8", "replace"), end="")
            return EXIT_OK
        sys.stdout.flush()
        sys.stdout.buffer.write(mail.raw)  # byte for byte, as it arrived
        sys.stdout.buffer.flush()
        return EXIT_OK
    if arguments.json:
        print_json(mail.to_json())
        return EXIT_OK
    detail = mail.detail
    for label, value in (
        ("mail", detail.id), ("received", f"{detail.received_at} via {detail.via}"),
        ("envelope", f"{detail.envelope_from or '<>'} → {', '.join(detail.envelope_to)}"),
        ("from", detail.from_), ("to", detail.to), ("subject", detail.subject),
        ("date", detail.date or "-"), ("message-id", detail.message_id or "-"),
        ("size", f"{len(mail.raw):,} bytes"),
    ):  # fmt: skip
        print(f"{label:>10}  {value}")
    for defect in detail.defects:
        print(f"{'defect':>10}  {defect}")
    for outcome in mail.outcomes:
        incident = f" #{outcome['incident_id']}" if outcome["incident_id"] else ""
        print(f"{'outcome':>10}  {outcome['source'] or '(reply)'}: {outcome['outcome']}"
              f"{incident} ({outcome['reason']})")  # fmt: skip
    print()
    print(detail.text)
    return EXIT_OK
