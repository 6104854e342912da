"""`mailsiren serve` (the listener) and `mailsiren ingest` (a pipe from Postfix or procmail)."""

from __future__ import annotations

import argparse
import sys
from email.utils import getaddresses

from app.cli.common import EXIT_OK, add_command, opened_workspace

EXIT_NO_SOURCE = 67  # sysexits EX_NOUSER: Postfix bounces, there is no such address
EXIT_TEMPORARY = 75  # sysexits EX_TEMPFAIL: Postfix keeps the mail and retries
ROUTING_HEADERS = ("Delivered-To", "To", "Cc", "Bcc")


def register(commands) -> None:
    serve = add_command(
        commands,
        "serve",
        "receive alert mail over SMTP until SIGTERM or SIGINT",
        "mailsiren serve",
        "mailsiren serve --smtp-host 0.0.0.0 --smtp-port 25",
        handler=run_serve,
    )
    serve.add_argument("--smtp-host", default=None, help="listen address (default 127.0.0.1)")
    serve.add_argument("--smtp-port", type=int, default=None, help="listen port (default 2525)")
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


def run_serve(arguments: argparse.Namespace) -> int:
    from app import paths
    from app.server.listener import serve_forever
    from app.server.supervisor import hold_serve_lock

    settings = paths.load_settings()  # the storage process opens the database and key file
    hold_serve_lock(settings.database_url)  # held until this process ends
    host = arguments.smtp_host or settings.listener_host
    port = arguments.smtp_port if arguments.smtp_port is not None else settings.listener_port
    serve_forever(settings, host, port)
    return EXIT_OK


def read_message(stream) -> bytes:
    """Standard input as bytes, without the mbox `From ` line a pipe may put first."""
    raw = stream.read()
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    return raw


def header_recipients(raw: bytes) -> list[str]:
    from email import message_from_bytes, policy

    message = message_from_bytes(raw, policy=policy.compat32)
    values = [value for name in ROUTING_HEADERS for value in message.get_all(name, [])]
    return [address for _name, address in getaddresses([str(v) for v in values]) if address]


def run_ingest(arguments: argparse.Namespace) -> int:
    raw = read_message(sys.stdin.buffer)
    try:
        from app.core.intake.pipeline import ingest_mail

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
