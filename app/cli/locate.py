"""`mailsiren locate WHAT`: where the settings, data, database, key or shared file is."""

from __future__ import annotations

import argparse

from app import paths
from app.cli.common import EXIT_OK, examples


def register(commands) -> None:
    locate = commands.add_parser(
        "locate",
        help="print where a file or folder is",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=examples("mailsiren locate db", "mailsiren locate shared-config"),
    )
    locate.add_argument("what", choices=["config", "data", "db", "key", "shared-config"])
    locate.set_defaults(handler=run_locate)


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
