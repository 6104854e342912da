"""Opening mailsiren's world: settings, key ring, database and the user at the keyboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app import paths
from app.core.store.db import Database, open_database
from app.core.store.secrets import load_or_create_keyring
from app.core.users import UserView, current_login, ensure_user

if TYPE_CHECKING:  # imported when first read: SMTP code is off a read's import path
    from app.core.sending.shared import SharedConfigState


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
        self.user = ensure_user(self.database, self.user.name)
        return self.user

    def close(self) -> None:
        self.database.dispose()


def open_workspace(settings: paths.Settings | None = None) -> Workspace:
    """Load settings and the key file, open and migrate the database, know the user.

    Raises SettingsError, KeyFileError or DatabaseError with a message for a person.
    """
    settings = settings or paths.load_settings()
    keyring = load_or_create_keyring(paths.key_file())
    database = open_database(settings.database_url, keyring)
    user = ensure_user(database, current_login())
    return Workspace(settings, database, user)
