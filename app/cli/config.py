"""`mailsiren config export|import`: org, users, policies, sources and integrations as TOML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.common import EXIT_OK, CommandError, add_command, escaped, opened_workspace


def register(commands) -> None:
    config = add_command(
        commands, "config", "the configuration (org, users, policies, sources, integrations) as TOML",
        "mailsiren config export > mailsiren.toml", "mailsiren config import mailsiren.toml",
    )  # fmt: skip
    actions = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    add_command(
        actions, "export", "print the configuration as TOML", "mailsiren config export > sources.toml",
        handler=run_config_export,
    )  # fmt: skip
    importing = add_command(
        actions,
        "import",
        "create or update the configuration from a TOML file, validated whole first",
        "mailsiren config import sources.toml",
        "mailsiren config import sources.toml --prune   (delete sources not in the file)",
        handler=run_config_import,
    )
    importing.add_argument("file", type=Path)
    importing.add_argument(
        "--prune",
        action="store_true",
        help="delete sources, policies and integrations not in the file, and users not in "
        "it when it has [[user]] entries",
    )


def run_config_export(_arguments: argparse.Namespace) -> int:
    from app.core.configfile import export_config

    with opened_workspace() as workspace:
        exported = export_config(workspace.database, workspace.user)
    sys.stdout.write(escaped(exported))
    if "[[user]]" not in exported:  # an administrator's export always lists at least themselves
        print(
            "note: no [[user]] entries: exporting users needs the 'admin' permission",
            file=sys.stderr,
        )
    return EXIT_OK


def run_config_import(arguments: argparse.Namespace) -> int:
    from app.core.configfile import import_config

    try:
        text = arguments.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"{arguments.file}: cannot be read: {error}") from error
    with opened_workspace() as workspace:
        report = import_config(
            workspace.database,
            workspace.user,
            text,
            prune=arguments.prune,
            origin=str(arguments.file),
        )
    for label, names in (
        ("created", report.created), ("updated", report.updated), ("deleted", report.pruned),
    ):  # fmt: skip
        if names:
            print(f"{label}: {', '.join(names)}")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for section in report.ignored:
        print(
            f"warning: [{section}] was not imported: this version of mailsiren does not "
            "manage it from a file yet",
            file=sys.stderr,
        )
    return EXIT_OK
