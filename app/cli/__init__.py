"""The `mailsiren` command line: parses arguments, calls app.core, prints. No domain logic."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from app import __version__, paths
from app.cli import (
    config,
    db,
    deliveries,
    demo,
    groups,
    incidents,
    ingest,
    integrations,
    key,
    locate,
    mails,
    schedules,
    serve,
    silences,
    smtp,
    sources,
    users,
)
from app.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    CommandError,
    ShownStream,
    closed_pipe,
    examples,
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
    # In the order `mailsiren --help` lists them; each module is named after its command.
    for command in (
        demo,  # first: what a newcomer looks for
        locate, serve, ingest, incidents, mails, sources, silences, config, smtp, users, groups,
        integrations, schedules, deliveries, db, key,
    ):  # fmt: skip
        command.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")  # type: ignore[union-attr]
    parser = build_parser()
    arguments = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = getattr(arguments, "handler", run_ui)
    if handler in (run_ui, demo.run_demo):  # the TUI draws escapes; it cleans what it shows
        return _run(handler, arguments)
    # Every other command's output is shown, never acted on by the terminal: a subject,
    # a sender or an SMTP reply came from outside.
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ShownStream(sys.stdout), ShownStream(sys.stderr)
    try:
        return _run(handler, arguments)
    finally:
        sys.stdout, sys.stderr = streams


def _run(handler: Callable[[argparse.Namespace], int], arguments: argparse.Namespace) -> int:
    try:
        code = handler(arguments)
        sys.stdout.flush()  # a reader gone is seen here, not in the interpreter's last flush
        return code
    except MailsirenError as error:
        print(f"mailsiren: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `mailsiren incidents list | head`: head has what it wanted
        return closed_pipe()
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
    """The UI; it opens the workspace after its first frame (raising what opening raised)."""
    from dataclasses import replace

    from app.server.supervisor import ServeSupervisor
    from app.ui.app import run_app

    settings = paths.load_settings()
    if arguments.theme:
        settings = replace(settings, theme=arguments.theme)
    log_path = paths.data_dir() / "serve.log"
    start = settings.run_serve and not arguments.no_serve
    # Started by the app once the workspace is open (it creates the key file and the schema
    # on a first run): receive alert mail while the log is open, unless serve runs.
    supervisor = ServeSupervisor(settings.database_url, log_path, start=start)
    try:
        run_app(settings, supervisor)
    finally:
        supervisor.stop()
    return EXIT_OK


__all__ = ["CommandError", "EXIT_FAILURE", "EXIT_OK", "build_parser", "main"]
