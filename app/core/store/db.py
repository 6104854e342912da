"""The database: engine, SQLite pragmas, read and write sessions, schema migrations."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session

from app.core.store.plain import SCHEMA_HEAD
from app.core.store.secrets import KeyRing, keyring_of
from app.errors import MailsirenError

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# Every write transaction on PostgreSQL sends this notification at its commit: screens on
# any host learn of a change in commit order (ids are not committed in their own order).
CHANGES_CHANNEL = "mailsiren_changed"
NOTIFY_CHANGE = text(f"NOTIFY {CHANGES_CHANNEL}")
# PostgreSQL's deadlock and serialization failures: the transaction may be run again, whole.
RETRYABLE_STATES = {"40P01", "40001"}
# How long an SQLite statement waits for another writer's lock before "database is locked"
# (SQLITE_PROBLEMS says "over 10 s" to the person: keep the two together).
DEFAULT_BUSY_TIMEOUT = 10.0  # seconds


class DatabaseError(MailsirenError):
    """The database cannot be opened or upgraded; the message says what to do."""

    title = "Database problem"


class WriteConflict(Exception):
    """Another writer changed a row between this transaction's read and its write."""


def needs_new_transaction(error: BaseException) -> bool:
    """A deadlock or serialization failure: the rows this transaction already holds may be
    what the other one waits for, so only a new transaction can break the cycle."""
    return (
        isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", None) in RETRYABLE_STATES
    )


def is_retryable(error: BaseException) -> bool:
    """The other writer has committed what this work collided with (a unique constraint it
    satisfied first, or a row it changed meanwhile): the same work, run again in the same
    transaction, sees its rows."""
    return isinstance(error, IntegrityError | WriteConflict)


class Database:
    """One engine, with the key ring that its encrypted columns use.

    `busy_timeout` (seconds, SQLite only) is how long a statement waits for another writer.
    """

    def __init__(
        self, url: str, keyring: KeyRing, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine: Engine = create_engine(
                url, connect_args={"timeout": 30, "check_same_thread": False}
            )
            _install_sqlite_behaviour(self.engine, busy_timeout)
        else:
            # Times are stored and read in UTC whatever the server's zone; a connection the
            # server dropped (a restart) is noticed on checkout rather than mid-transaction.
            self.engine = create_engine(
                url, connect_args={"options": "-c timezone=UTC"}, pool_pre_ping=True
            )
        self.keyring = keyring
        self._write_engine = self.engine.execution_options(mailsiren_write=True)
        self._changes = SqliteCommits(self.engine) if self.is_sqlite else ChangeFeed(self.engine)
        self._committed_here = 0  # PostgreSQL: write()s committed through this Database

    @property
    def keyring(self) -> KeyRing:
        """The key ring of the encrypted columns (EncryptedText reads it from the dialect),
        as the key file holds it now."""
        return keyring_of(self.engine.dialect)

    @keyring.setter
    def keyring(self, keyring: KeyRing) -> None:
        # Kept on the dialect: one per engine, no global.
        self.engine.dialect.mailsiren_keyring = keyring  # type: ignore[attr-defined]

    @contextmanager
    def read(self, *, snapshot: bool = False) -> Iterator[Session]:
        """A short read-only session (a deferred transaction on SQLite, so one snapshot).

        `snapshot`: on PostgreSQL too, every statement sees the same committed state
        (REPEATABLE READ; its default, READ COMMITTED, sees each commit as it lands)."""
        with Session(self.engine, expire_on_commit=False) as session:
            if snapshot and not self.is_sqlite:
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A short write transaction (BEGIN IMMEDIATE on SQLite), committed on exit."""
        with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
            yield session
            if not self.is_sqlite:  # counted by the ChangeFeed; SQLite's data_version needs none
                session.execute(NOTIFY_CHANGE)
        if not self.is_sqlite:
            # Committed. Our own NOTIFY reaches our LISTEN connection a moment later; counted
            # here too, a read right after this commit already sees the token moved.
            self._committed_here += 1

    def change_count(self) -> int:
        """Grows after every write transaction committed, by any process or host (the live
        screens' token, app/core/store/changes.py); this Database's own commits at once."""
        return self._changes.count() + self._committed_here

    def schema_revision(self) -> str | None:
        """The migration the database is at; None for a new, empty database."""
        with self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
        return row[0] if row else None

    def migrate(self) -> None:
        """Bring the schema to the newest revision, if it is not there already."""
        if self.schema_revision() == SCHEMA_HEAD:
            return
        from alembic import command
        from alembic.config import Config

        with self._write_engine.begin() as connection:
            if not self.is_sqlite:
                # Two serves starting at once on one PostgreSQL database: one upgrades, the
                # other waits here and then finds nothing left to do.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": 7270001})
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS_DIR))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self._changes.close()
        self.engine.dispose()


class ChangeFeed:
    """A connection of its own that LISTENs for the writers' NOTIFY and counts them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection = None
        self.seen = 0
        self.lock = threading.Lock()

    def count(self) -> int:
        with self.lock:
            try:
                if self.connection is None:
                    pooled = self.engine.raw_connection()
                    # Taken before detach(): a detached connection no longer names its
                    # driver connection (None), and every count would start over.
                    self.connection = pooled.driver_connection
                    pooled.detach()  # ours for as long as we listen, never back to the pool
                    self.connection.autocommit = True
                    self.connection.execute(f"LISTEN {CHANGES_CHANNEL}")
                    self.seen += 1  # anything may have changed while nobody listened
                for _ in self.connection.notifies(timeout=0):
                    self.seen += 1
            except Exception:  # noqa: BLE001 - a lost connection: listen again next time
                self.close()
                self.seen += 1
            return self.seen

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None


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


def _install_sqlite_behaviour(engine: Engine, busy_timeout: float) -> None:
    busy_timeout_ms = round(busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # We issue BEGIN ourselves, so that writes can take the lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # A new file hands the pages retention frees back (app/core/store/retention.py); it
        # must come before the first table (and before WAL). An older file keeps NONE. Set
        # only on an empty file: on every connection it moved data_version, the change token.
        if cursor.execute("PRAGMA page_count").fetchone()[0] == 0:
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms:d}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        write = connection.get_execution_options().get("mailsiren_write")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def printable_url(url: str) -> str:
    """The URL with its password masked, fit for a message or a log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL SQLAlchemy cannot read: show no part of it
        return "(the database URL, which cannot be read)"


def open_database(
    url: str,
    keyring: KeyRing,
    *,
    migrate: bool = True,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
) -> Database:
    """Open (creating the folder of an SQLite file if needed) and migrate the database."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:
            raise DatabaseError(f"Cannot create the folder {path.parent}: {error}") from error
    database = Database(url, keyring, busy_timeout=busy_timeout)
    if migrate:
        try:
            database.migrate()
        except DBAPIError as error:
            raise database_problem(error, url) from error
    return database


# SQLite's words for a problem → what to tell the person, with {path} and {url} filled in.
SQLITE_PROBLEMS = (
    ("database is locked",
     "{path} is locked: another program has held a write transaction on it for over 10 s "
     "(an sqlite3 shell, a backup, a stuck process; `fuser {path}` names it). Let it finish "
     "or stop it, then try again. Nothing was changed."),
    ("readonly database",
     "{path} is read-only for this user: give the user write access to the file and its "
     "folder (SQLite writes a -wal file beside it), or point MAILSIREN_DB elsewhere."),
    ("not a database",
     "{path} is not an SQLite database, or is damaged. Check the path (database_url in "
     "config.toml, or MAILSIREN_DB); if it is the right file, restore it from a backup."),
    ("malformed",
     "{path} is damaged. Stop every mailsiren using it and restore it from a backup "
     "(`sqlite3 {path} .recover` can save what is left)."),
    ("disk is full",
     "The disk holding {path} is full: free some space. Mail that could not be stored was "
     "answered 451, so its senders will send it again."),
    ("unable to open database file",
     "{path} cannot be opened: check that its folder exists and this user may write there "
     "(database_url in config.toml, or MAILSIREN_DB)."),
)  # fmt: skip


def database_problem(error: DBAPIError, url: str) -> DatabaseError:
    """A driver's error as a DatabaseError that says what happened and what to do."""
    reason = str(error.orig).strip().rstrip(".")
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        for words, advice in SQLITE_PROBLEMS:
            if words in reason.lower():
                return DatabaseError(f"{advice.format(path=path)} (SQLite said: {reason})")
        return DatabaseError(f"The database {path} failed: {reason}.")
    return DatabaseError(
        f"The database {printable_url(url)} failed: {reason}. Check that the server runs and "
        "accepts this host, and the URL's host, port, user, password and database name "
        "(database_url in config.toml, or MAILSIREN_DB)."
    )
