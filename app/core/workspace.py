"""Opening mailsiren's world: settings, key ring, database and the user at the keyboard."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from app import paths
from app.core.login import current_login
from app.core.store.plain import SCHEMA_HEAD, PlainConnection, connect_plainly

if TYPE_CHECKING:  # imported when first used: a plain read loads no SQLAlchemy
    from app.core.sending.shared import SharedConfigState
    from app.core.store.db import Database
    from app.core.users import UserView

Read = TypeVar("Read")


@dataclass
class Workspace:
    settings: paths.Settings
    database: Database
    user: UserView
    shared_config_path: Path = field(default_factory=paths.shared_config_file)

    def shared_config(self) -> SharedConfigState:
        """The administrator's file, read afresh: an edit applies without a restart."""
        from app.core.sending.shared import load_shared_config

        return load_shared_config(self.shared_config_path)

    def refresh_user(self) -> UserView:
        """Read the user again (an administrator may have changed groups or permissions)."""
        from app.core.users import ensure_user

        self.user = ensure_user(self.database, self.user.name)
        return self.user

    def close(self) -> None:
        self.database.dispose()


def open_workspace(settings: paths.Settings | None = None) -> Workspace:
    """Load settings and the key file, open and migrate the database, know the user.

    Raises SettingsError, KeyFileError or DatabaseError with a message for a person.
    """
    from app.core.store.db import open_database
    from app.core.store.secrets import load_or_create_keyring
    from app.core.users import ensure_user

    settings = settings or paths.load_settings()
    keyring = load_or_create_keyring(paths.key_file())
    database = open_database(settings.database_url, keyring)
    user = ensure_user(database, current_login())
    return Workspace(settings, database, user)


def read_plainly(read: Callable[[PlainConnection], Read]) -> Read | None:
    """`read` run on a driver connection, without SQLAlchemy (a tenth of a second instead of
    half a second), or None when only `open_workspace` can answer: no key file or database
    yet, a schema to upgrade, a login seen for the first time (each created there), or an
    error from the driver (open_workspace's path then says it for a person)."""
    settings = paths.load_settings()
    try:  # nothing is decrypted here, but a key file this user cannot read is said so
        paths.key_file().open("rb").close()
    except OSError:
        return None
    connection = connect_plainly(settings.database_url)
    if connection is None:
        return None
    try:
        if connection.value("SELECT version_num FROM alembic_version") != SCHEMA_HEAD:
            return None
        known = connection.value("SELECT id FROM user_account WHERE name = ?", (current_login(),))
        return None if known is None else read(connection)
    except connection.errors:
        return None
    finally:
        connection.close()
