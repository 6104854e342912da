"""`mailsiren key rotate|retire`: a new encryption key, every stored secret re-encrypted with it."""

from __future__ import annotations

import argparse

from app import paths
from app.cli.common import EXIT_OK, add_command, opened_workspace

ORDER = "mailsiren key rotate [--stage] | mailsiren key retire"


def register(commands) -> None:
    key = add_command(commands, "key", "the encryption key file", ORDER)
    key_commands = key.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    key_rotate = key_commands.add_parser(
        "rotate",
        help="a new key encrypts from now on; every stored secret is re-encrypted with it",
        epilog="example: mailsiren key rotate   (a team: mailsiren key rotate --stage first)",
    )
    key_rotate.add_argument(
        "--stage",
        action="store_true",
        help="only add the next key, used by no one yet: copy the file to every host, then rotate",
    )
    key_rotate.set_defaults(handler=run_key_rotate)
    key_retire = key_commands.add_parser(
        "retire",
        help="drop the keys a rotation kept for reading, once every host has the new key file",
        epilog="example: mailsiren key retire",
    )
    key_retire.set_defaults(handler=run_key_retire)


def run_key_rotate(arguments: argparse.Namespace) -> int:
    from app.core.store.keyrotation import rotate_key, stage_key

    with opened_workspace() as workspace:
        if arguments.stage:
            stage_key(workspace.database, workspace.user, paths.key_file())
            print(
                f"Next key staged in {paths.key_file()}; nothing is encrypted with it yet. "
                "Copy this file to every host of the team, then run: mailsiren key rotate"
            )
            return EXIT_OK
        rotation = rotate_key(workspace.database, workspace.user, paths.key_file())
    print(
        f"New key in {paths.key_file()}; {rotation.rewritten} stored secrets re-encrypted "
        f"with it. The previous key is kept for reading: once every host of the team has "
        "this key file (running serves pick it up without a restart), run: mailsiren key retire"
    )
    return EXIT_OK


def run_key_retire(_arguments: argparse.Namespace) -> int:
    from app.core.store.keyrotation import retire_keys

    with opened_workspace() as workspace:
        rotation = retire_keys(workspace.database, workspace.user, paths.key_file())
    print(
        f"Old keys dropped from {paths.key_file()}; {rotation.rewritten} secrets written "
        "under them since the rotation were re-encrypted first."
    )
    return EXIT_OK
