"""What every command shares: the error type, exit codes, examples and the open workspace."""

from __future__ import annotations

import argparse
import json
import re
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


# What a terminal would act on rather than show: C0 controls but tab and newline (CR too: it
# rewrites the line), DEL, C1 (0x9b is a CSI on some terminals) and the bidi overrides.
_TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# In JSON and TOML, C0 and DEL are escaped by the encoder; these are not.
_UNESCAPED_BY_ENCODERS = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _shown(match: re.Match) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the control pictures: ␛ for ESC, ␍ for CR
    return "\u2421" if code == 0x7F else f"<U+{code:04X}>"


def shown(text: str) -> str:
    """Text from outside (a subject, a sender, a server's reply) as a terminal shows it
    without acting on it: every control and bidi override made visible."""
    return _TERMINAL_CONTROLS.sub(_shown, text)


def escaped(encoded: str) -> str:
    """JSON or TOML text with the characters their encoders leave raw written as \\uXXXX
    (valid in both, inside the strings they can only appear in)."""
    return _UNESCAPED_BY_ENCODERS.sub(lambda match: f"\\u{ord(match.group()):04x}", encoded)


class ShownStream:
    """stdout or stderr for a command's human output: what is written is `shown`."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(shown(text))
        return len(text)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def closed_pipe() -> int:
    """The reader of standard output went away (`| head` has its lines): end quietly and
    well, as a pipeline expects, with nothing left for the interpreter's last flush."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.__stdout__.fileno())
    return EXIT_OK


def print_json(value: object) -> None:
    sys.stdout.write(escaped(json.dumps(value, indent=2, ensure_ascii=False)) + "\n")
