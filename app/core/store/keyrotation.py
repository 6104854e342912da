"""`key rotate` and `key retire`: a new Fernet key, every secret re-encrypted, old keys retired."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlmodel import SQLModel

import app.core.store.models  # noqa: F401 - registers every table
from app.core.store.db import Database
from app.core.store.secrets import EncryptedText, KeyRing, write_keyring
from app.core.users import UserView, require_current


@dataclass(frozen=True)
class Rotation:
    """What a rotation step did: values rewritten, and keys the file still holds for reading."""

    rewritten: int
    retired_keys_kept: int
    staged_keys: int


def encrypted_columns() -> list[tuple[str, str, str]]:
    """(table, primary-key column, encrypted column) for every encrypted column."""
    found = []
    for table in SQLModel.metadata.sorted_tables:
        key_columns = list(table.primary_key.columns)
        for column in table.columns:
            if isinstance(column.type, EncryptedText):
                found.append((table.name, key_columns[0].name, column.name))
    return found


def stage_key(database: Database, actor: UserView, key_path: Path) -> Rotation:
    """Add a key that every holder of the file can decrypt with and no one encrypts with yet:
    a team copies this file to every host before `rotate_key` starts writing under it."""
    require_current(database, actor, "admin")
    staged = database.keyring.with_staged_key()
    write_keyring(staged, key_path)
    return _described(staged, 0)


def rotate_key(database: Database, actor: UserView, key_path: Path) -> Rotation:
    """The staged key (or a new one) encrypts from now on; every secret is re-encrypted under
    it in one transaction. The previous keys stay in the file, decrypt only, until
    `retire_keys`: a serve or another host still holding the old file keeps working.

    The file is written before the rewrite, so a crash at any point leaves every value
    readable; running processes follow the file without a restart (KeyRing.current).
    """
    require_current(database, actor, "admin")
    rotated: KeyRing = database.keyring.with_new_primary_key()
    write_keyring(rotated, key_path)
    return _described(rotated, _rewrite(database, rotated, lambda _token: True))


def retire_keys(database: Database, actor: UserView, key_path: Path) -> Rotation:
    """Re-encrypt what is still under an older key (written by a process that had not yet
    read the new file), then drop the older keys from the file."""
    require_current(database, actor, "admin")
    keyring = database.keyring
    count = _rewrite(database, keyring, lambda token: not keyring.is_under_primary(token))
    retired = keyring.without_retired_keys()
    write_keyring(retired, key_path)
    return _described(retired, count)


def _rewrite(database: Database, keyring: KeyRing, needs_rewrite) -> int:
    """Re-encrypt the values that need it, each row locked so that a concurrent change (a
    password saved meanwhile) is neither lost nor overwritten (SQLite's write lock is whole)."""
    lock = "" if database.is_sqlite else " FOR UPDATE"
    count = 0
    with database.write() as session:
        connection = session.connection()
        for table, key, column in encrypted_columns():
            rows = connection.execute(
                text(
                    f'SELECT "{key}", "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL{lock}'
                )
            ).all()
            for row_key, token in rows:
                if not needs_rewrite(token):
                    continue
                connection.execute(
                    text(f'UPDATE "{table}" SET "{column}" = :token WHERE "{key}" = :key'),
                    {"token": keyring.reencrypt(token), "key": row_key},
                )
                count += 1
    return count


def _described(keyring: KeyRing, rewritten: int) -> Rotation:
    return Rotation(rewritten, len(keyring.fernet_keys) - 1, len(keyring.staged_keys))
