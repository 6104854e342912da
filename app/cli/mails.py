"""`mailsiren mails list|show|explain|reprocess`: received mail, one whole, why, and redone."""

from __future__ import annotations

import argparse

from app.cli.common import EXIT_OK, CommandError, add_command, opened_workspace, print_json
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
    explain = add_command(
        actions, "explain",
        "why a mail got its outcome: for each source every step (loop check, each filter "
        "and resolve rule with the value compared, each key rule with the span it matched, "
        "severity and title rules, the creation mode), the outcome recorded and the one the "
        "rules give now",
        "mailsiren mails explain 42", "mailsiren mails explain 42 --source nagios --json",
        handler=run_mails_explain,
    )  # fmt: skip
    explain.add_argument("id", type=int)
    explain.add_argument("--source", metavar="NAME", help="only this source (any source, even "
                         "one the mail was not for)")  # fmt: skip
    explain.add_argument("--json", action="store_true", help="print JSON")
    again = add_command(
        actions, "reprocess",
        "decide a source's mails again with its rules now, in mail order; a dry run unless "
        "--apply (a mail already in an incident is never redone; twice changes nothing more)",
        "mailsiren mails reprocess --source nagios --since 2h --outcome filtered",
        "mailsiren mails reprocess --source nagios --since 2h --outcome filtered --apply",
        handler=run_mails_reprocess,
    )  # fmt: skip
    again.add_argument("--source", metavar="NAME", required=True)
    again.add_argument("--since", metavar="DURATION", help="received in the last 90m, 2h, 1d…")
    again.add_argument("--outcome", choices=MAIL_OUTCOMES, help="only mails it recorded")
    again.add_argument("--apply", action="store_true", help="write the new outcomes (triage)")
    again.add_argument("--json", action="store_true", help="print JSON")


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
    pruned = mail.detail.pruned_at
    pruned_note = f"pruned on {pruned[:10]} (retention)" if pruned else ""
    if arguments.raw and pruned:
        raise CommandError(f"mail {arguments.id}'s raw source was {pruned_note}: nothing to show")
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
        ("size", f"{mail.size:,} bytes" + (f", {pruned_note}" if pruned else "")),
    ):  # fmt: skip
        print(f"{label:>10}  {value}")
    for defect in detail.defects:
        print(f"{'defect':>10}  {defect}")
    for outcome in mail.outcomes:
        incident = f" #{outcome['incident_id']}" if outcome["incident_id"] else ""
        print(f"{'outcome':>10}  {outcome['source'] or '(reply)'}: {outcome['outcome']}"
              f"{incident} ({outcome['reason']})")  # fmt: skip
    print()
    print(f"(its text was {pruned_note})" if pruned else detail.text)
    return EXIT_OK


def run_mails_explain(arguments: argparse.Namespace) -> int:
    from app.core.intake.explain import explain_mail

    with opened_workspace() as workspace:
        explained = explain_mail(workspace.database, arguments.id, source=arguments.source)
    if arguments.json:
        print_json({"mail_id": arguments.id, "sources": [one.to_json() for one in explained]})
        return EXIT_OK
    if not explained:
        print(f"mail {arguments.id} was for no source (a reply to a notification, or its "
              "source was deleted); --source NAME explains it for one")  # fmt: skip
    for one in explained:
        print(f"mail {arguments.id} for {one.source}:")
        for step in one.steps:
            print(f"  {step.step:<16} {step.result:<12} {step.detail}")
            if step.value is not None:
                span = f" [{step.span[0]}:{step.span[1]}]" if step.span else ""
                print(f"  {'':<16} {'':<12} compared{span}: {step.value!r}")
        for label, outcome in (("recorded", one.recorded), ("now", one.now)):
            if outcome is None:
                print(f"  {label:<16} (never decided for this source)")
                continue
            incident = f" #{outcome.incident_id}" if outcome.incident_id else ""
            print(f"  {label:<16} {outcome.outcome}{incident}: {outcome.reason}")
        if one.differs:
            print(
                "  arriving now it would do otherwise (its rules or the open incidents changed); "
                "`mailsiren mails reprocess` redoes the mails that are in no incident"
            )
    return EXIT_OK


def run_mails_reprocess(arguments: argparse.Namespace) -> int:
    from app.core.incidents.silences import parse_duration
    from app.core.intake.reprocess import reprocess_mails
    from app.core.store.db import utc_now

    since = utc_now() - parse_duration(arguments.since) if arguments.since else None
    with opened_workspace() as workspace:
        report = reprocess_mails(
            workspace.database, workspace.user, arguments.source, since=since,
            outcome=arguments.outcome, apply=arguments.apply,
        )  # fmt: skip
    if arguments.json:
        print_json({"source": report.source, "applied": report.applied,
                    "changed": report.changed, "mails": [m.to_json() for m in report.mails]})  # fmt: skip
        return EXIT_OK
    for mail in report.mails:
        was = f"{mail.recorded}{f' #{mail.recorded_incident_id}' if mail.recorded_incident_id else ''}"
        now = f"{mail.outcome}{f' #{mail.incident_id}' if mail.incident_id else ''}"
        mark = "→" if mail.changed else "="
        print(f"{mail.mail_id:<6} {was:<18} {mark} {now:<18} {mail.subject}  ({mail.reason})")
    verb = "changed" if report.applied else "would change"
    print(f"{report.changed} of {len(report.mails)} mails {verb}"
          + ("" if report.applied or not report.changed else "; --apply writes it"))  # fmt: skip
    return EXIT_OK
