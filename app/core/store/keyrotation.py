"""`key rotate`: a new Fernet key, every encrypted column re-encrypted, old keys retired."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlmodel import SQLModel

import app.core.store.models  # noqa: F401 - registers every table
from app.core.store.db import Database
from app.core.store.secrets import EncryptedText, KeyRing, write_keyring


def encrypted_columns() -> list[tuple[str, str, str]]:
    """(table, primary-key column, encrypted column) for every encrypted column."""
    found = []
    for table in SQLModel.metadata.sorted_tables:
        key_columns = list(table.primary_key.columns)
        for column in table.columns:
            if isinstance(column.type, EncryptedText):
                found.append((table.name, key_columns[0].name, column.name))
    return found


def rotate_key(database: Database, key_path: Path) -> int:
    """Re-encrypt every secret under a new key; returns how many values were rewritten.

    The key file first holds the new and the old keys, so a crash at any point leaves
    every value readable; the old keys are dropped only after the commit.
    """
    rotated: KeyRing = database.keyring.with_new_primary_key()
    write_keyring(rotated, key_path)
    count = 0
    with database.write() as session:
        connection = session.connection()
        for table, key, column in encrypted_columns():
            rows = connection.execute(
                text(f'SELECT "{key}", "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL')
            ).all()
            for row_key, token in rows:
                connection.execute(
                    text(f'UPDATE "{table}" SET "{column}" = :token WHERE "{key}" = :key'),
                    {"token": rotated.reencrypt(token), "key": row_key},
                )
                count += 1
    final = rotated.with_only_primary_key()
    write_keyring(final, key_path)
    database.keyring = final
    return count
