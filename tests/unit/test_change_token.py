"""The one change token the live screens poll: it moves after every commit, whoever made it."""

from __future__ import annotations

import subprocess
import sys
import time

from sqlalchemy import delete

from app.core.store.changes import database_token
from app.core.store.db import Database
from app.core.store.models import User
from app.core.users import ensure_user

# Another process, as a CLI command or another serve is: it opens the same database itself.
WRITER = """
import sys
from pathlib import Path
from app.core.store.db import open_database
from app.core.store.secrets import load_or_create_keyring
from app.core.users import ensure_user
database = open_database(sys.argv[1], load_or_create_keyring(Path(sys.argv[2])))
ensure_user(database, sys.argv[3])
database.dispose()
"""


def moved_from(database: Database, seen: int) -> bool:
    """PostgreSQL delivers a commit's NOTIFY a moment later: within the screens' second."""
    deadline = time.monotonic() + 1.0
    while database_token(database) == seen:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_the_token_holds_still_while_nothing_is_written(database: Database):
    # On PostgreSQL this failed: the change feed took its connection after detach(), got
    # None, and counted one change per call, so every screen read itself again every second.
    seen = database_token(database)
    with database.read() as session:
        session.exec(User.__table__.select()).all()
    assert database_token(database) == database_token(database) == seen


def test_every_commit_of_this_process_moves_the_token_a_deletion_too(database: Database):
    seen = database_token(database)
    ensure_user(database, "alice")
    assert moved_from(database, seen)
    seen = database_token(database)
    ensure_user(database, "bob")
    assert moved_from(database, seen)
    seen = database_token(database)
    with database.write() as session:
        session.execute(delete(User).where(User.name == "bob"))
    assert moved_from(database, seen)


def test_a_commit_by_another_process_moves_the_token(database: Database):
    ensure_user(database, "alice")
    seen = database_token(database)
    key = database.keyring.path
    done = subprocess.run(
        [sys.executable, "-c", WRITER, database.url, str(key), "carol"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert moved_from(database, seen), "a CLI's commit stayed unseen for 1 s"
