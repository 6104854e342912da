"""The change token every live screen polls: it moves after any commit, by any process or host."""

from __future__ import annotations

import threading
from contextlib import suppress
from weakref import WeakKeyDictionary

from sqlalchemy import Engine

from app.core.store.db import Database

# A count that grows after commits; compare it for equality (it never goes back).
ChangeToken = int


def database_token(database: Database) -> ChangeToken:
    """Moves after every write transaction committed to the database, whichever process or
    host committed it: a CLI command, another serve, another host on PostgreSQL (it may also
    move without a change: a lost connection, an SQLite checkpoint). Read it before the rows
    it stands for: a commit after it then shows at the next read.

    PostgreSQL: every write transaction NOTIFYs at its commit (Database.write), counted by
    `change_count`; an id alone would hide a slower transaction's lower id. SQLite: its
    `data_version`, read on a connection that never writes, moves after every commit by any
    other connection, in this process or another.
    """
    if database.is_sqlite:
        return _sqlite_commits(database).count()
    return database.change_count()


class SqliteCommits:
    """A connection of its own, never used to write, whose `PRAGMA data_version` tells
    that another connection (of any process) committed since it last looked."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection = None
        self.version: int | None = None
        self.seen = 0
        self.lock = threading.Lock()

    def count(self) -> int:
        with self.lock:
            try:
                if self.connection is None:
                    pooled = self.engine.raw_connection()  # the engine's pragmas, autocommit
                    self.connection = pooled.driver_connection  # before detach() drops it
                    pooled.detach()  # ours for as long as we look, never back to the pool
                (version,) = self.connection.execute("PRAGMA data_version").fetchone()
                if version != self.version:  # None at first: anything may have changed
                    self.version, self.seen = version, self.seen + 1
            except Exception:  # noqa: BLE001 - a lost connection: look again next time
                self.close()
                self.seen += 1
            return self.seen

    def close(self) -> None:
        connection, self.connection, self.version = self.connection, None, None
        if connection is not None:
            with suppress(Exception):  # already broken: nothing left to close
                connection.close()


# One per open SQLite database, dropped with it.
_COMMITS: WeakKeyDictionary[Database, SqliteCommits] = WeakKeyDictionary()
_COMMITS_LOCK = threading.Lock()


def _sqlite_commits(database: Database) -> SqliteCommits:
    with _COMMITS_LOCK:
        commits = _COMMITS.get(database)
        if commits is None:
            commits = _COMMITS[database] = SqliteCommits(database.engine)
        return commits
