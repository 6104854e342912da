"""The key file, encryption at rest, and key rotation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.core.sending.personal import SmtpForm, load_settings_for_sending, save_preferences
from app.core.store.db import open_database
from app.core.store.keyrotation import rotate_key
from app.core.store.secrets import (
    DecryptionError,
    KeyFileError,
    load_keyring,
    load_or_create_keyring,
)
from app.core.users import ensure_user
from tests.postgres import sqlite_only

PASSWORD = "Zq7-unmistakable-password"
ADDRESS = "alice.secret@example.com"


def test_key_file_is_created_with_mode_0600_whatever_the_umask(tmp_path: Path):
    old = os.umask(0)
    try:
        load_or_create_keyring(tmp_path / "data" / "mailsiren.key")
    finally:
        os.umask(old)
    assert (tmp_path / "data" / "mailsiren.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_group_or_world_readable_key_file_is_refused_naming_file_and_fix(tmp_path, mode):
    path = tmp_path / "mailsiren.key"
    load_or_create_keyring(path)
    path.chmod(mode)
    with pytest.raises(KeyFileError) as refused:
        load_keyring(path)
    message = str(refused.value)
    assert str(path) in message and f"chmod 600 {path}" in message


def test_damaged_key_file_is_named_with_its_line(tmp_path):
    path = tmp_path / "mailsiren.key"
    load_or_create_keyring(path)
    path.write_text(path.read_text() + "fernet = not-a-key\n")
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match=r"mailsiren.key:\d+: damaged fernet key"):
        load_keyring(path)


def save_secrets(database, user):
    with database.write() as session:
        from app.core.store.models import User

        row = session.get(User, user.id)
        row.email = ADDRESS
    save_preferences(
        database,
        user,
        SmtpForm(
            server="smtp.example.com",
            port="587",
            username=ADDRESS,
            password=PASSWORD,
            from_address=ADDRESS,
        ),
    )


@sqlite_only
def test_no_plaintext_secret_in_the_database_file_or_its_wal(database, user, tmp_path):
    save_secrets(database, user)
    files = list((tmp_path / "db").glob("mailsiren.db*"))
    assert any(f.name.endswith("-wal") for f in files), "read while the WAL still holds data"
    raw = b"".join(f.read_bytes() for f in files)
    assert len(raw) > 4096
    for secret in (PASSWORD, ADDRESS, "alice.secret"):
        assert secret.encode() not in raw
        assert secret.encode("utf-16-le") not in raw
    assert load_settings_for_sending(database, user).password == PASSWORD


def test_no_plaintext_secret_in_any_row_as_the_server_stores_it(database, user):
    """On either backend: every table read raw, past the encrypted columns' decryption."""
    save_secrets(database, user)
    with database.engine.connect() as connection:
        rows = [
            repr(row)
            for table in ("user_account", "smtp_preference")
            for row in connection.exec_driver_sql(f"SELECT * FROM {table}")
        ]
    assert len(rows) == 2
    for secret in (PASSWORD, ADDRESS, "alice.secret"):
        assert not any(secret in row for row in rows)
    assert load_settings_for_sending(database, user).password == PASSWORD


def test_key_rotation_reencrypts_every_secret_and_retires_the_old_key(database, user, tmp_path):
    key_path = tmp_path / "rotated.key"
    load_or_create_keyring(key_path)
    old_keyring = database.keyring
    save_secrets(database, user)
    rewritten = rotate_key(database, key_path)
    assert rewritten == 4  # user email, SMTP username, password, from address
    new_keyring = load_keyring(key_path)
    assert len(new_keyring.fernet_keys) == 1
    assert new_keyring.fernet_keys[0] not in old_keyring.fernet_keys
    assert load_settings_for_sending(database, user).password == PASSWORD
    reopened = open_database(database.url, new_keyring)
    try:
        assert ensure_user(reopened, user.name).email == ADDRESS
    finally:
        reopened.dispose()
    stale = open_database(database.url, old_keyring)
    try:
        with pytest.raises(DecryptionError):
            ensure_user(stale, user.name)
    finally:
        stale.dispose()
