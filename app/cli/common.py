"""What every command shares: the error type, exit codes, examples and the open workspace."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from app.errors import MailsirenError

if TYPE_CHECKING:
    from app.core.workspace import Workspace

EXIT_OK = 0
EXIT_FAILURE = 1


class CommandError(MailsirenError):
    """A mistake or refusal to report to the person at the terminal, without a traceback."""

    title = "Command not done"


def examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def add_command(commands, name: str, help_text: str, *example_lines: str, handler=None):
    """A subcommand whose --help ends with examples."""
    parser = commands.add_parser(
        name,
        help=help_text,
        description=help_text[:1].upper() + help_text[1:] + ".",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=examples(*example_lines) if example_lines else None,
    )
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


@contextmanager
def opened_workspace() -> Iterator[Workspace]:
    """The workspace for one command, closed when the command is done."""
    from app.core.workspace import open_workspace

    workspace = open_workspace()
    try:
        yield workspace
    finally:
        workspace.close()


def print_json(value: object) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
