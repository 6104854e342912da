"""What starting costs: the UI's first frame and the argument parser import no core."""

from __future__ import annotations

import subprocess
import sys

# Imported only once the workspace is opened (the UI) or a command needs them (the CLI).
HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "aiosmtplib", "cryptography", "inscriptis", "re2")


def modules_imported_by(code: str, packages: tuple[str, ...] = HEAVY) -> list[str]:
    """Which of `packages` a fresh interpreter has imported after running `code`."""
    probe = f"{code}\nimport sys\nprint(*sorted({{m.split('.')[0] for m in sys.modules}}))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return [name for name in result.stdout.split() if name in packages]


def test_the_app_and_its_opening_screen_import_no_core():
    code = (
        "from app import paths\n"
        "from app.ui.app import MailsirenApp\n"
        "from app.ui.screens.area import OpeningScreen\n"
        "MailsirenApp(settings=paths.load_settings()); OpeningScreen()\n"
    )
    assert modules_imported_by(code) == []
    # the probe sees what is imported: the app's own screens come with the workspace
    assert modules_imported_by(code + "import sqlalchemy\n") == ["sqlalchemy"]


def test_building_the_parser_imports_no_core_and_no_asyncio():
    code = "from app.cli import build_parser\nbuild_parser()\n"
    assert modules_imported_by(code, (*HEAVY, "asyncio", "textual")) == []


def test_listing_incidents_on_an_opened_workspace_imports_no_database_layer(workspace):
    # The workspace exists (key file, database at the newest schema, alice known): the
    # list is read through sqlite3 alone. A first run takes the full open (other tests).
    code = (
        "import app.core.workspace\n"
        "app.core.workspace.current_login = lambda: 'alice'\n"
        "from app.cli import main\n"
        "assert main(['incidents', 'list', '--state', 'all']) == 0\n"
    )
    assert modules_imported_by(code, (*HEAVY, "psycopg")) == []
    as_bob = code.replace("'alice'", "'bob'")  # a login seen for the first time: full open
    assert modules_imported_by(as_bob, ("sqlalchemy",)) == ["sqlalchemy"]
