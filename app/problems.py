"""Failures the machine causes (a database that is locked, full or read-only; a file this user
may not read), said for a person: the command line and the screens both tell them so."""

from __future__ import annotations

import sys

from app.errors import MailsirenError


def environment_problem(error: BaseException, database_url: str) -> str | None:
    """What happened and what to do, or None when `error` is none of these (a bug)."""
    if isinstance(error, MailsirenError):
        return str(error)
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror or error}"
    if "sqlalchemy" in sys.modules:  # only then can it be a database error
        from sqlalchemy.exc import DBAPIError

        from app.core.store.db import database_problem

        if isinstance(error, DBAPIError):
            return str(database_problem(error, database_url))
    return None
