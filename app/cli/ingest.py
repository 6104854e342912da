"""`mailsiren ingest`: one mail from standard input, as a Postfix pipe or procmail delivers it."""

from __future__ import annotations

import argparse
import sys

from app.cli.common import EXIT_OK, add_command, opened_workspace

EXIT_NO_SOURCE = 67  # sysexits EX_NOUSER: Postfix bounces, there is no such address
EXIT_TEMPORARY = 75  # sysexits EX_TEMPFAIL: Postfix keeps the mail and retries


def register(commands) -> None:
    ingest = add_command(
        commands,
        "ingest",
        "store one mail from standard input, as a Postfix pipe or procmail delivers it",
        "mailsiren ingest --to nagios@alerts.example.com < alert.eml",
        "mailsiren ingest < alert.eml     (routes by Delivered-To, To, Cc, Bcc)",
        handler=run_ingest,
    )
    ingest.add_argument(
        "--to", action="append", default=[], metavar="ADDR", help="envelope recipient (repeatable)"
    )
    ingest.add_argument("--from", dest="sender", default=None, help="envelope sender")
    ingest.epilog += (
        "\n\nexit status: 0 stored, 67 no alert source for any recipient, "
        "75 temporary failure (the sender should retry)"
    )


def read_message(stream) -> bytes:
    """Standard input as bytes, without the mbox `From ` line a pipe may put first."""
    raw = stream.read()
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    return raw


def run_ingest(arguments: argparse.Namespace) -> int:
    raw = read_message(sys.stdin.buffer)
    try:
        from app.core.intake.pipeline import ingest_mail
        from app.core.intake.recipients import header_recipients

        recipients = arguments.to or header_recipients(raw)
        with opened_workspace() as workspace:
            result = ingest_mail(
                workspace.database, raw, recipients, via="ingest", envelope_from=arguments.sender
            )
    except Exception as error:  # noqa: BLE001 - any failure must make the sender retry
        print(f"mailsiren: not stored, try again later: {error}", file=sys.stderr)
        return EXIT_TEMPORARY
    if not result.stored:
        shown = ", ".join(recipients) or "(none found in Delivered-To, To, Cc, Bcc)"
        print(f"mailsiren: no enabled alert source for {shown}", file=sys.stderr)
        return EXIT_NO_SOURCE
    for outcome in result.outcomes:
        incident = f" #{outcome.incident_id}" if outcome.incident_id else ""
        print(f"mail {result.mail_id} → {outcome.source}: {outcome.outcome}{incident}")
    return EXIT_OK
