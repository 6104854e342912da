"""`mailsiren db migrate` and `mailsiren db copy --to URL`: the database's schema and moves."""

from __future__ import annotations

import argparse

from app import paths
from app.cli.common import EXIT_FAILURE, EXIT_OK, CommandError, add_command, opened_workspace
from app.words import plural


def register(commands) -> None:
    database = add_command(
        commands, "db", "the database: upgrade it, or copy it elsewhere",
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
    target_url = paths.database_url_from(arguments.to)
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
