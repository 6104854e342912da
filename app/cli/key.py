"""`mailsiren key rotate`: a new encryption key, every stored secret re-encrypted with it."""

from __future__ import annotations

import argparse

from app import paths
from app.cli.common import EXIT_OK, add_command, opened_workspace


def register(commands) -> None:
    key = add_command(commands, "key", "the encryption key file", "mailsiren key rotate")
    key_commands = key.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    key_rotate = key_commands.add_parser(
        "rotate",
        help="make a new key and re-encrypt every stored secret with it",
        epilog="example: mailsiren key rotate",
    )
    key_rotate.set_defaults(handler=run_key_rotate)


def run_key_rotate(_arguments: argparse.Namespace) -> int:
    from app.core.store.keyrotation import rotate_key

    with opened_workspace() as workspace:
        count = rotate_key(workspace.database, paths.key_file())
    print(f"New key in {paths.key_file()}; {count} stored secrets re-encrypted with it.")
    return EXIT_OK
