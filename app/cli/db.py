"""`mailsiren db migrate`, `db copy --to URL` and `db prune`: the database's schema, moves
and retention."""

from __future__ import annotations

import argparse

from app import paths
from app.cli.common import EXIT_FAILURE, EXIT_OK, CommandError, add_command, opened_workspace
from app.words import plural


def register(commands) -> None:
    database = add_command(
        commands, "db", "the database: upgrade it, copy it elsewhere, prune old mails",
        "mailsiren db migrate",
        "mailsiren db copy --to postgresql+psycopg://mailsiren@db1.example.com/mailsiren",
    )  # fmt: skip
    actions = database.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    add_command(
        actions, "migrate", "upgrade the database's schema in place to this version's",
        "mailsiren db migrate", "MAILSIREN_DB=postgresql+psycopg://ms@db1/mailsiren "
        "mailsiren db migrate", handler=run_db_migrate,
    )  # fmt: skip
    copy = add_command(
        actions, "copy",
        "copy every row to another database (SQLite to PostgreSQL), then compare both sides",
        "mailsiren db copy --to postgresql+psycopg://ms@db1/mailsiren", handler=run_db_copy,
    )  # fmt: skip
    copy.add_argument(
        "--to", required=True, metavar="URL", help="an empty database, e.g. a new PostgreSQL one"
    )
    prune = add_command(
        actions, "prune",
        "empty the raw bytes and text of old mails whose incidents are resolved (§17 retention; "
        "subjects, outcomes and timelines stay)",
        "mailsiren db prune                      # older than [org] retention_days",
        "mailsiren db prune --older-than 30d --dry-run",
        "mailsiren db prune --older-than 12h --json", handler=run_db_prune,
    )  # fmt: skip
    prune.add_argument(
        "--older-than", metavar="DURATION",
        help="received longer ago than this: 30d, 12h, 1d12h (default: retention_days days)",
    )  # fmt: skip
    prune.add_argument(
        "--dry-run", action="store_true", help="say what it would free; change nothing"
    )
    prune.add_argument("--json", action="store_true", help="print JSON")


def run_db_migrate(_arguments: argparse.Namespace) -> int:
    from app.core.store.db import SCHEMA_HEAD, open_database
    from app.core.store.secrets import load_or_create_keyring

    settings = paths.load_settings()
    database = open_database(
        settings.database_url, load_or_create_keyring(paths.key_file()), migrate=False
    )
    try:
        before = database.schema_revision()
        database.migrate()
    finally:
        database.dispose()
    if before == SCHEMA_HEAD:
        print(f"The database is already at schema {SCHEMA_HEAD}; nothing to do.")
    else:
        print(f"Upgraded the database from schema {before or '(empty)'} to {SCHEMA_HEAD}.")
    return EXIT_OK


def run_db_copy(arguments: argparse.Namespace) -> int:
    from app.core.store.db import open_database
    from app.core.store.dbcopy import copy_database
    from app.core.users import require_current
    from app.server.supervisor import running_serve_pid

    settings = paths.load_settings()
    target_url = paths.database_url_from(arguments.to, "--to")
    if target_url == settings.database_url:
        raise CommandError("--to names the database in use; give the new, empty one")
    pid = running_serve_pid(settings.database_url)
    if pid is not None:
        raise CommandError(
            f"mailsiren serve (pid {pid}) is receiving mail into this database: what arrives "
            "during the copy would stay behind. Stop it (quit the UI, or kill it) and run "
            "the copy again."
        )
    with opened_workspace() as workspace:
        require_current(workspace.database, workspace.user, "admin")
        target = open_database(target_url, workspace.database.keyring)
        try:
            report = copy_database(workspace.database, target)
        finally:
            target.dispose()
    width = max(len(table.name) for table in report.tables)
    for table in report.tables:
        mark = "✓" if table.same else "✗ DIFFERS"
        print(
            f"{table.name:<{width}}  {table.rows:>8} → {table.target_rows:>8} rows  "
            f"sha256 {table.source_digest[:16]}  {mark}"
        )
    if not report.same:
        print("The copy differs from the source (✗ above); keep using the source.")
        return EXIT_FAILURE
    total = sum(table.rows for table in report.tables)
    print(
        f"Copied {plural(total, 'row')}; counts and checksums agree. To use the copy, set "
        f"database_url to the --to URL in {paths.settings_file()} (or MAILSIREN_DB), and "
        f"give every host the same key file ({paths.key_file()})."
    )
    return EXIT_OK


def run_db_prune(arguments: argparse.Namespace) -> int:
    from datetime import timedelta

    from app.cli.common import print_json
    from app.core.incidents.silences import SilenceError, parse_duration
    from app.core.store.retention import prune_mails, retention_days
    from app.core.users import require_current
    from app.words import byte_size

    try:
        older_than = parse_duration(arguments.older_than) if arguments.older_than else None
    except SilenceError:
        raise CommandError(
            f"--older-than {arguments.older_than!r} is not a duration: write it like 30d, 12h "
            "or 1d12h"
        ) from None
    with opened_workspace() as workspace:
        require_current(workspace.database, workspace.user, "admin")
        if older_than is None:
            with workspace.database.read() as session:
                days = retention_days(session.connection())
            if days <= 0:
                if arguments.json:
                    print_json({"mails": 0, "bytes": 0, "reason": "retention_days is 0"})
                else:
                    print(
                        "Nothing to prune: [org] retention_days is 0, which keeps every mail "
                        "forever. Set it (`mailsiren config import`, or o on the Integrations "
                        "screen), or give --older-than 30d."
                    )
                return EXIT_OK
            older_than = timedelta(days=days)
        report = prune_mails(workspace.database, older_than, dry_run=arguments.dry_run)
    if arguments.json:
        print_json(report.to_json())
        return EXIT_OK
    cutoff = report.cutoff.astimezone().strftime("%Y-%m-%d %H:%M %Z")
    mails = plural(report.mails, "mail")
    freed = byte_size(report.bytes) + (f" ({report.bytes:,} bytes)" if report.bytes >= 1000 else "")
    if arguments.dry_run:
        print(f"Would prune {mails} received before {cutoff} whose incidents are resolved: "
              f"{freed}. Nothing was changed (--dry-run).")  # fmt: skip
        return EXIT_OK
    print(f"Pruned {mails} received before {cutoff} whose incidents are resolved: freed {freed}. "
          "Their subjects, outcomes and timelines stay.")  # fmt: skip
    if report.mails and report.space == "returned":
        print("The database file gave the space back (SQLite auto_vacuum=INCREMENTAL).")
    elif report.mails and report.space == "kept for reuse":
        print(
            "The database file does not shrink: it was made before mailsiren set SQLite's "
            "auto_vacuum, so SQLite keeps the freed pages and new mail reuses them "
            "(SQLite's VACUUM, run with serve stopped, would shrink it)."
        )
    elif report.mails:
        print("PostgreSQL's autovacuum makes the space reusable by new rows.")
    return EXIT_OK
