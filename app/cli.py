"""The `mailsiren` command line: parses arguments, calls app.core, prints. No domain logic."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from app import __version__, paths
from app.core.db import DatabaseError
from app.core.secrets import DecryptionError, KeyFileError

if TYPE_CHECKING:
    from app.core.workspace import Workspace

EXIT_OK = 0
EXIT_FAILURE = 1


class CommandError(Exception):
    """A mistake or refusal to report to the person at the terminal, without a traceback."""


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailsiren",
        description="Alert email in, incidents out. With no command, opens the terminal UI.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_examples(
            "mailsiren                      open the UI",
            "mailsiren smtp set --server smtp.example.com --port 587 --username me "
            "--password-stdin",
            "mailsiren smtp test --probe",
            "mailsiren locate db",
        ),
    )
    parser.add_argument("--version", action="version", version=f"mailsiren {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    locate = commands.add_parser(
        "locate",
        help="print where a file or folder is",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_examples("mailsiren locate db", "mailsiren locate shared-config"),
    )
    locate.add_argument("what", choices=["config", "data", "db", "key", "shared-config"])
    locate.set_defaults(handler=run_locate)

    smtp = commands.add_parser("smtp", help="your personal SMTP settings")
    smtp_commands = smtp.add_subparsers(dest="smtp_command", metavar="ACTION", required=True)
    smtp_set = smtp_commands.add_parser(
        "set",
        help="save your SMTP settings",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_examples(
            "printf '%s' \"$PASS\" | mailsiren smtp set --server smtp.example.com --port 587 "
            "--username me@example.com --password-stdin",
            "mailsiren smtp set --server localhost --port 25 --tls none",
        ),
    )
    smtp_set.add_argument("--server", required=True, help="SMTP server host name or address")
    smtp_set.add_argument("--port", required=True, help="587 STARTTLS, 465 TLS, 25 plain")
    smtp_set.add_argument("--username", default="", help="user name to log in with")
    smtp_set.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (never from the command line)",
    )
    smtp_set.add_argument("--tls", choices=["starttls", "tls", "none"], default="starttls")
    smtp_set.add_argument(
        "--insecure-skip-verify",
        action="store_true",
        help="do not validate the server's TLS certificate (dangerous)",
    )
    smtp_set.add_argument("--from", dest="from_address", default="", help="sender address")
    smtp_set.set_defaults(handler=run_smtp_set)

    smtp_show = smtp_commands.add_parser(
        "show",
        help="show your SMTP settings (never the password)",
        epilog="example: mailsiren smtp show",
    )
    smtp_show.set_defaults(handler=run_smtp_show)
    smtp_clear = smtp_commands.add_parser(
        "clear", help="delete your SMTP settings", epilog="example: mailsiren smtp clear"
    )
    smtp_clear.set_defaults(handler=run_smtp_clear)
    smtp_test = smtp_commands.add_parser(
        "test",
        help="test your saved settings stage by stage",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_examples(
            "mailsiren smtp test                  send a test email to yourself",
            "mailsiren smtp test --probe          stop after RCPT TO; send nothing",
            "mailsiren smtp test --to ops@example.com",
        ),
    )
    smtp_test.add_argument("--to", dest="recipient", help="recipient (default: your address)")
    smtp_test.add_argument("--probe", action="store_true", help="stop after RCPT TO")
    smtp_test.add_argument(
        "--timeout", type=float, default=15.0, help="seconds each stage may take (default 15)"
    )
    smtp_test.set_defaults(handler=run_smtp_test)

    key = commands.add_parser("key", help="the encryption key file")
    key_commands = key.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    key_rotate = key_commands.add_parser(
        "rotate",
        help="make a new key and re-encrypt every stored secret with it",
        epilog="example: mailsiren key rotate",
    )
    key_rotate.set_defaults(handler=run_key_rotate)
    return parser


def main(argv: list[str] | None = None) -> int:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")  # type: ignore[union-attr]
    parser = build_parser()
    arguments = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = getattr(arguments, "handler", run_ui)
    try:
        return handler(arguments)
    except (
        CommandError,
        paths.SettingsError,
        KeyFileError,
        DatabaseError,
        DecryptionError,
    ) as error:
        print(f"mailsiren: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


@contextmanager
def opened_workspace() -> Iterator[Workspace]:
    """The workspace for one command, closed when the command is done."""
    from app.core.workspace import open_workspace

    workspace = open_workspace()
    try:
        yield workspace
    finally:
        workspace.close()


def run_ui(_arguments: argparse.Namespace) -> int:
    from app.ui.app import run_app

    with opened_workspace() as workspace:
        run_app(workspace)
    return EXIT_OK


def run_locate(arguments: argparse.Namespace) -> int:
    settings = paths.load_settings()
    locations = {
        "config": paths.settings_file(),
        "data": paths.data_dir(),
        "db": settings.database_url.removeprefix("sqlite:///"),
        "key": paths.key_file(),
        "shared-config": paths.shared_config_file(),
    }
    print(locations[arguments.what])
    return EXIT_OK


def _read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("SMTP password: ")
    line = sys.stdin.readline()
    return line.removesuffix("\n").removesuffix("\r")


def run_smtp_set(arguments: argparse.Namespace) -> int:
    from app.core.smtpprefs import SmtpForm, SmtpFormInvalid, save_preferences

    password = _read_password() if arguments.password_stdin else ""
    if arguments.password_stdin and not password:
        raise CommandError("--password-stdin was given but standard input held no password.")
    form = SmtpForm(
        server=arguments.server,
        port=str(arguments.port),
        username=arguments.username,
        password=password,
        tls_mode=arguments.tls,
        skip_certificate_verification=arguments.insecure_skip_verify,
        from_address=arguments.from_address,
    )
    with opened_workspace() as workspace:
        try:
            view = save_preferences(workspace.database, workspace.user, form)
        except SmtpFormInvalid as error:
            flags = {"from_address": "--from", "tls_mode": "--tls"}
            lines = [
                f"  {flags.get(field, '--' + field)}: {text}"
                for field, text in error.errors.items()
            ]
            raise CommandError("the settings were not saved:\n" + "\n".join(lines)) from error
    print(f"Saved SMTP settings for {workspace.user.name}.")
    for warning in view.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK


def run_smtp_show(_arguments: argparse.Namespace) -> int:
    from app.core.smtpprefs import TLS_MODE_LABELS, load_preferences

    with opened_workspace() as workspace:
        view = load_preferences(workspace.database, workspace.user)
    if view is None:
        print(
            f"{workspace.user.name} has no personal SMTP settings. Set them with: "
            "mailsiren smtp set --server HOST --port N"
        )
        return EXIT_OK
    rows = [
        ("server", f"{view.server}:{view.port}"),
        ("TLS", TLS_MODE_LABELS.get(view.tls_mode, view.tls_mode)),
        ("certificate validation", "DISABLED" if view.skip_certificate_verification else "on"),
        ("username", view.username or "(none: no login)"),
        ("password", "(saved, never shown)" if view.has_password else "(none)"),
        ("from", view.effective_from or "(none: set --from or your email address)"),
        ("updated", f"{view.updated_at:%Y-%m-%d %H:%M:%S} UTC"),
    ]
    for label, value in rows:
        print(f"{label:>24}  {value}")
    for warning in view.warnings:
        print(f"warning: {warning}")
    return EXIT_OK


def run_smtp_clear(_arguments: argparse.Namespace) -> int:
    from app.core.smtpprefs import clear_preferences

    with opened_workspace() as workspace:
        removed = clear_preferences(workspace.database, workspace.user)
    print("Your SMTP settings are deleted." if removed else "You had no SMTP settings.")
    return EXIT_OK


def run_smtp_test(arguments: argparse.Namespace) -> int:
    from app.core.smtpclient import run_smtp_test as run_test
    from app.core.smtptest import TestRequestError, prepare_smtp_test

    with opened_workspace() as workspace:
        try:
            request = prepare_smtp_test(
                workspace.database,
                workspace.user,
                recipient=arguments.recipient,
                probe=arguments.probe,
            )
        except TestRequestError as error:
            raise CommandError(str(error)) from error
    print(
        f"Testing {request.settings.server}:{request.settings.port} "
        f"({request.settings.tls_mode}), {request.mode} to {request.recipient}"
    )
    transcript = asyncio.run(
        run_test(
            request.settings,
            recipient=request.recipient,
            mode=request.mode,
            on_stage=lambda stage: print(format_stage(stage), flush=True),
            stage_timeout=arguments.timeout,
        )
    )
    print(("✔ " if transcript.ok else "✘ ") + transcript.summary)
    return EXIT_OK if transcript.ok else EXIT_FAILURE


def format_stage(stage) -> str:
    mark = "✔" if stage.ok else "✘"
    lines = [f"{mark} {stage.stage:<12} {stage.reply}  ({stage.elapsed_ms:.0f} ms)"]
    lines += [f"    {detail}" for detail in stage.details]
    if stage.hint:
        lines.append(f"    hint: {stage.hint}")
    return "\n".join(lines)


def run_key_rotate(_arguments: argparse.Namespace) -> int:
    from app.core.keyrotation import rotate_key

    with opened_workspace() as workspace:
        count = rotate_key(workspace.database, paths.key_file())
    print(f"New key in {paths.key_file()}; {count} stored secrets re-encrypted with it.")
    return EXIT_OK
