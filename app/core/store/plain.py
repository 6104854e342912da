"""Reads through the database driver alone (sqlite3 or psycopg), without SQLAlchemy: what a
read-only command needs in order to answer in a tenth of a second (issue 26)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

# The newest migration's revision. Compared with the database's on open, so that the
# migration machinery is imported only when there is work for it (a test checks it).
SCHEMA_HEAD = "0011"

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIX = "postgresql+psycopg://"


class PlainConnection:
    """A driver connection whose SQL is written with `?` placeholders on both backends."""

    def __init__(self, driver_connection, *, sqlite: bool) -> None:
        self.driver_connection = driver_connection
        self.is_sqlite = sqlite

    @property
    def errors(self) -> type[Exception]:
        """The driver's base error."""
        if self.is_sqlite:
            return sqlite3.Error
        import psycopg

        return psycopg.Error

    def rows(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        """The rows of `sql`, whose only `?` are placeholders (psycopg's are `%s`, so the
        SQL holds no literal `?` or `%` either: values go in `parameters`)."""
        if not self.is_sqlite:
            sql = sql.replace("?", "%s")
        cursor = self.driver_connection.cursor()
        try:
            cursor.execute(sql, parameters)
            return cursor.fetchall()
        finally:
            cursor.close()

    def value(self, sql: str, parameters: tuple = ()):
        """The first column of the first row, or None when there is no row."""
        rows = self.rows(sql, parameters)
        return rows[0][0] if rows else None

    def close(self) -> None:
        self.driver_connection.close()


def connect_plainly(url: str) -> PlainConnection | None:
    """A driver connection to the database at `url`, or None when only the full open can
    serve it: an SQLite file that does not exist yet (the full open creates it), a URL this
    reader does not know, or a server that cannot be reached (the full open says why)."""
    if url.startswith(SQLITE_PREFIX) and "?" not in url:
        path = Path(url.removeprefix(SQLITE_PREFIX))
        if not path.is_file():
            return None
        try:
            return PlainConnection(sqlite3.connect(path, timeout=10), sqlite=True)
        except sqlite3.Error:
            return None
    if url.startswith(POSTGRES_PREFIX):
        import psycopg

        conninfo = "postgresql://" + url.removeprefix(POSTGRES_PREFIX)
        try:
            driver = psycopg.connect(conninfo, options="-c timezone=UTC", autocommit=True)
        except psycopg.Error:
            return None
        return PlainConnection(driver, sqlite=False)
    return None


def iso_utc(value: datetime | str | None) -> str | None:
    """A stored time (SQLite keeps text, in UTC; PostgreSQL a datetime) as ISO 8601 UTC."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")
