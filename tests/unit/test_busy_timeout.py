"""How long SQLite waits for another writer's lock: 10 s unless the opener says otherwise."""

from __future__ import annotations

import sqlite3
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.core.store.db import open_database
from app.core.store.secrets import load_or_create_keyring


def busy_timeout_ms(database) -> int:
    with database.read() as session:
        return session.execute(text("PRAGMA busy_timeout")).scalar_one()


def test_a_database_waits_ten_seconds_unless_told_otherwise(tmp_path):
    keyring = load_or_create_keyring(tmp_path / "mailsiren.key")
    url = f"sqlite:///{tmp_path / 'mailsiren.db'}"
    default = open_database(url, keyring)
    short = open_database(url, keyring, busy_timeout=0.25)
    try:
        assert busy_timeout_ms(default) == 10_000
        assert busy_timeout_ms(short) == 250
    finally:
        default.dispose()
        short.dispose()


def test_a_writer_gives_up_on_a_held_lock_after_its_busy_timeout(tmp_path):
    keyring = load_or_create_keyring(tmp_path / "mailsiren.key")
    database = open_database(f"sqlite:///{tmp_path / 'mailsiren.db'}", keyring, busy_timeout=0.2)
    holder = sqlite3.connect(tmp_path / "mailsiren.db")
    holder.execute("BEGIN EXCLUSIVE")
    started = time.monotonic()
    try:
        with (
            pytest.raises(OperationalError, match="database is locked"),
            database.write() as session,
        ):
            session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: wait for the writer's lock
    finally:
        holder.rollback()
        holder.close()
        database.dispose()
    assert 0.15 < time.monotonic() - started < 5
