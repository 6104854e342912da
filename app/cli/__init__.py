"""The `mailsiren` command line: parses arguments, calls app.core, prints. No domain logic."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from app import __version__, paths
from app.cli import admin as admin_commands
from app.cli import database as database_commands
from app.cli import demo as demo_commands
from app.cli import engine as engine_commands
from app.cli import incidents as incident_commands
from app.cli import notify as notify_commands
from app.cli import smtp as smtp_commands
from app.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    CommandError,
    add_command,
    examples,
    opened_workspace,
)
from app.errors import MailsirenError
from app.problems import environment_problem


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailsiren",
        description="Alert email in, incidents out. With no command, opens the terminal UI.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=examples(
            "mailsiren                      open the UI",
            "mailsiren --theme ansi         open it in the terminal's own colours",
            "mailsiren --no-serve           open it; serve runs elsewhere (a team's host)",
            "mailsiren demo                 try it on sample alerts, in a throwaway database",
            "mailsiren smtp set --server smtp.example.com --port 587 --username me "
            "--password-stdin",
            "mailsiren smtp test --probe",
            "mailsiren smtp explain --to ops@example.com",
            "mailsiren users list",
            "mailsiren locate db",
        ),
    )
    parser.add_argument("--version", action="version", version=f"mailsiren {__version__}")
    parser.add_argument(
        "--theme",
        help="the UI's theme for this run (theme in config.toml keeps one): "
        "ansi uses the terminal's own 16 colours; textual-dark, nord, gruvbox, …",
    )
    parser.add_argument(
        "--no-serve", action="store_true",
        help="open the UI without starting serve when none runs (run_serve = false in "
        "config.toml does the same): for an operator's host when serve runs elsewhere",
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo_commands.register(commands)  # first: what a newcomer looks for

    locate = commands.add_parser(
        "locate",
        help="print where a file or folder is",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=examples("mailsiren locate db", "mailsiren locate shared-config"),
    )
    locate.add_argument("what", choices=["config", "data", "db", "key", "shared-config"])
    locate.set_defaults(handler=run_locate)

    engine_commands.register(commands)
    incident_commands.register(commands)
    smtp_commands.register(commands)
    admin_commands.register(commands)
    notify_commands.register(commands)
    database_commands.register(commands)

    key = add_command(commands, "key", "the encryption key file", "mailsiren key rotate")
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
    except MailsirenError as error:
        print(f"mailsiren: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        problem = environment_problem(error, _database_url())
        if problem is None:
            raise  # a bug: its traceback is what a report needs
        print(f"mailsiren: {problem}", file=sys.stderr)
    return EXIT_FAILURE


def _database_url() -> str:
    try:
        return paths.load_settings().database_url
    except MailsirenError:
        return "(the database)"


def run_ui(arguments: argparse.Namespace) -> int:
    from dataclasses import replace

    from app.server.supervisor import ServeSupervisor
    from app.ui.app import run_app

    with opened_workspace() as workspace:
        if arguments.theme:
            workspace.settings = replace(workspace.settings, theme=arguments.theme)
        log_path = paths.data_dir() / "serve.log"
        start = workspace.settings.run_serve and not arguments.no_serve
        supervisor = ServeSupervisor(workspace.settings.database_url, log_path, start=start)
        supervisor.ensure()  # receive alert mail while the log is open, unless serve runs
        try:
            run_app(workspace, supervisor)
        finally:
            supervisor.stop()
    return EXIT_OK


def run_locate(arguments: argparse.Namespace) -> int:
    settings = paths.load_settings()
    locations = {
        "config": paths.settings_file(),
        "data": paths.data_dir(),
        "db": _shown_database(settings.database_url),
        "key": paths.key_file(),
        "shared-config": paths.shared_config_file(),
    }
    print(locations[arguments.what])
    return EXIT_OK


def _shown_database(url: str) -> str:
    """An SQLite database as its file's path; any other as its URL, password masked."""
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///")
    from app.core.store.db import printable_url

    return printable_url(url)


def run_key_rotate(_arguments: argparse.Namespace) -> int:
    from app.core.store.keyrotation import rotate_key

    with opened_workspace() as workspace:
        count = rotate_key(workspace.database, paths.key_file())
    print(f"New key in {paths.key_file()}; {count} stored secrets re-encrypted with it.")
    return EXIT_OK


__all__ = ["CommandError", "EXIT_FAILURE", "EXIT_OK", "build_parser", "main"]
