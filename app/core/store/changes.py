"""The change token every live screen polls: it moves after any commit, by any process or host."""

from __future__ import annotations

from app.core.store.db import Database

# A count that grows after commits; compare it for equality (it never goes back).
ChangeToken = int


def database_token(database: Database) -> ChangeToken:
    """Moves after every write transaction committed to the database, whichever process or
    host committed it: a CLI command, another serve, another host on PostgreSQL (it may also
    move without a change: a lost connection, an SQLite checkpoint). Read it before the rows
    it stands for: a commit after it then shows at the next read.

    `Database.change_count` keeps it: on PostgreSQL every write transaction NOTIFYs at its
    commit (an id alone would hide a slower transaction's lower id); on SQLite
    `data_version`, read on a connection that never writes, moves after every commit by any
    other connection, in this process or another.
    """
    return database.change_count()
