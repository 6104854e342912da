"""`mailsiren config export|import|check`: org, users, policies, sources and integrations as
TOML; `check` runs a file's samples (SPEC §16)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    CommandError,
    add_command,
    escaped,
    opened_workspace,
    print_json,
)


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
    check = add_command(
        actions, "check",
        "validate a TOML file as import does and run every [[source.sample]] through its "
        "source's rules in memory, in order, from no open incident; needs no database and "
        "changes nothing (exit 0: all pass; 1: a sample fails or the file is wrong)",
        "mailsiren config check mailsiren.toml",
        "mailsiren config check mailsiren.toml --json   (in CI: fails the build when a rule "
        "change breaks a sample)",
        handler=run_config_check,
    )  # fmt: skip
    check.add_argument("file", type=Path)
    check.add_argument("--json", action="store_true", help="print JSON")


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


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"{file}: cannot be read: {error}") from error


def run_config_import(arguments: argparse.Namespace) -> int:
    from app.core.configfile import import_config

    text = _read(arguments.file)
    with opened_workspace() as workspace:
        report = import_config(
            workspace.database,
            workspace.user,
            text,
            prune=arguments.prune,
            origin=str(arguments.file),
            folder=arguments.file.parent,
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


def run_config_check(arguments: argparse.Namespace) -> int:
    from app.core.configfile import parse_config, run_config_samples

    parsed = parse_config(_read(arguments.file), str(arguments.file), arguments.file.parent)
    results = run_config_samples(parsed)
    failed = sum(not result.passed for result in results)
    if arguments.json:
        print_json({
            "file": str(arguments.file), "valid": True, "samples": len(results),
            "passed": len(results) - failed, "failed": failed,
            "results": [result.to_json() for result in results],
        })  # fmt: skip
        return EXIT_FAILURE if failed else EXIT_OK
    for result in results:
        verdict = result.verdict
        print(
            f"{'PASS' if result.passed else 'FAIL'}  {result.name}: {verdict.outcome}"
            f", key {_shown(verdict.key)}, severity {_shown(verdict.severity)}"
        )
        for difference in result.differences:
            print(
                f"      {difference.field}: expected {_shown(difference.expected)}, "
                f"got {_shown(difference.got)}"
            )
        if not result.passed:
            print(f"      ({verdict.reason})")
    if not results:
        print(f"{arguments.file}: valid; it has no [[source.sample]] to run")
    else:
        print(
            f"{arguments.file}: valid; {len(results)} samples: {len(results) - failed} passed, "
            f"{failed} failed (nothing was stored)"
        )
    return EXIT_FAILURE if failed else EXIT_OK


def _shown(value: str | None) -> str:
    return "(none)" if value is None else repr(value)
