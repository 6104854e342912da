"""The key file, encryption at rest, and key rotation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from app.core.sending.personal import SmtpForm, load_settings_for_sending, save_preferences
from app.core.store.db import open_database
from app.core.store.keyrotation import retire_keys, rotate_key, stage_key
from app.core.store.secrets import (
    DecryptionError,
    KeyFileError,
    KeyRing,
    load_keyring,
    load_or_create_keyring,
)
from app.core.users import PermissionDenied, add_user, ensure_user
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


def test_key_rotation_reencrypts_every_secret_and_keeps_the_old_key_until_retired(database, user):
    key_path = database.keyring.path
    old_keyring = database.keyring
    save_secrets(database, user)
    rotation = rotate_key(database, user, key_path)
    assert rotation.rewritten == 4  # user email, SMTP username, password, from address
    rotated = load_keyring(key_path)
    assert rotated.fernet_keys[0] not in old_keyring.fernet_keys
    assert rotated.fernet_keys[1:] == old_keyring.fernet_keys  # still reads, never encrypts
    assert load_settings_for_sending(database, user).password == PASSWORD
    # A host that has not yet got the new file writes under the old key: still readable.
    written_elsewhere = old_keyring.encrypt("written by a host with the old file")
    assert database.keyring.decrypt(written_elsewhere) == "written by a host with the old file"
    plain_old = KeyRing(old_keyring.fernet_keys, old_keyring.hmac_key)  # follows no file
    with database.write() as session:  # as that host's serve would store an email
        session.connection().execute(
            text("UPDATE user_account SET email = :token WHERE id = :id"),
            {"token": plain_old.encrypt(ADDRESS), "id": user.id},
        )
    retirement = retire_keys(database, user, key_path)
    assert retirement.rewritten == 1  # only what was still under the old key
    assert load_keyring(key_path).fernet_keys == rotated.fernet_keys[:1]
    assert ensure_user(database, user.name).email == ADDRESS
    stale = open_database(database.url, plain_old)
    try:
        with pytest.raises(DecryptionError, match="copy that host's key file here"):
            ensure_user(stale, user.name)
    finally:
        stale.dispose()


def test_a_staged_key_reads_before_it_encrypts_then_rotation_makes_it_the_key(database, user):
    key_path = database.keyring.path
    old_primary = database.keyring.fernet_keys[0]
    stage_key(database, user, key_path)
    staged = load_keyring(key_path)
    assert staged.fernet_keys == (old_primary,) and len(staged.staged_keys) == 1
    assert Fernet(old_primary).decrypt(database.keyring.encrypt("x").encode()) == b"x"
    assert database.keyring.decrypt(Fernet(staged.staged_keys[0]).encrypt(b"y").decode()) == "y"
    rotate_key(database, user, key_path)
    promoted = load_keyring(key_path)
    assert promoted.fernet_keys == (staged.staged_keys[0], old_primary)
    assert promoted.staged_keys == ()


def test_an_open_database_follows_a_rotation_by_another_process(database, user):
    save_secrets(database, user)
    other = open_database(database.url, load_keyring(database.keyring.path))  # another process
    try:
        rotate_key(other, user, database.keyring.path)
        retire_keys(other, user, database.keyring.path)
    finally:
        other.dispose()
    assert load_settings_for_sending(database, user).password == PASSWORD  # no restart


def test_key_rotation_needs_admin(database, user):
    bob = add_user(database, user, "bob")
    for step in (stage_key, rotate_key, retire_keys):
        with pytest.raises(PermissionDenied, match="admin"):
            step(database, bob, database.keyring.path)
