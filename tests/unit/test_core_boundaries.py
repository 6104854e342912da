"""The domain stays free of the UI and of Prometheus, the listener free of the database
layer, and opening a current database needs no migration code."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import app.core
from app.core.store.db import SCHEMA_HEAD
from tests.postgres import sqlite_only

ROOT = Path(__file__).resolve().parents[2]


def core_modules() -> list[str]:
    """Every module of app.core, its subpackages' included."""
    return [module.name for module in pkgutil.walk_packages(app.core.__path__, "app.core.")]


def test_core_never_imports_textual():
    modules = core_modules()
    assert "app.core.sending.smtp" in modules and "app.core.store.db" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'prometheus_client')"
        " or m.startswith(('app.ui', 'app.cli', 'app.server')))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"app.core pulled in: {result.stdout}"


def test_the_import_contracts_hold():
    """pyproject's [tool.importlinter]: the core imports no ui, server or cli, and the server
    and the cli no ui (but the two commands that launch it), directly or through others."""
    lint_imports = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    result = subprocess.run(
        [sys.executable, "-c", lint_imports, "--no-cache", "--no-logo"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout, result.stdout


def test_the_listener_process_loads_no_database_code():
    # serve's listener hands every database question to its storage process; loading
    # SQLAlchemy there would cost ~40 MiB of the memory budget for nothing.
    code = (
        "import sys, app.cli, app.server.listener\n"
        "heavy = ('sqlalchemy', 'sqlmodel', 'alembic', 'textual', 're2', 'inscriptis',"
        " 'prometheus_client')\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"the listener pulled in: {result.stdout}"


def test_schema_head_constant_matches_the_newest_migration():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from app.core.store.db import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_HEAD


def test_migrations_upgrade_an_empty_database(database):
    assert database.schema_revision() == SCHEMA_HEAD
    database.migrate()  # a second run finds nothing to do
    assert database.schema_revision() == SCHEMA_HEAD


@sqlite_only
def test_sqlite_runs_in_wal_with_full_synchronous(database):
    with database.read() as session:
        connection = session.connection()
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
