"""`mailsiren db copy` and `db migrate` as an administrator runs them, onto a real PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.core.configfile import import_config
from app.core.intake.pipeline import ingest_mail
from app.core.intake.recipients import header_recipients
from app.core.notifications.integrations import IntegrationSpec, save_integration
from app.core.sending.personal import SmtpForm, save_preferences
from app.core.store.db import SCHEMA_HEAD
from app.core.store.dbcopy import copy_database
from app.core.workspace import open_workspace
from tests.e2e.process import mailsiren, mailsiren_json

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PASSWORD = "copy-me-encrypted"


def fill_the_default_database() -> None:
    """Every kind of row: sources, mails with their outcomes, incidents, a secret, an outbox."""
    workspace = open_workspace()
    try:
        database, user = workspace.database, workspace.user
        import_config(database, user, (FIXTURES / "sources.toml").read_text())
        save_preferences(database, user, SmtpForm(
            server="smtp.example.com", port="587", username="alice", password=PASSWORD,
            from_address="alice@example.com",
        ))  # fmt: skip
        save_integration(database, user, IntegrationSpec("ops@example.com"), confirmed=True)
        for eml in sorted((FIXTURES / "corpus").glob("*.eml")):
            raw = eml.read_bytes()
            ingest_mail(database, raw, header_recipients(raw), via="ingest")
    finally:
        workspace.close()


def test_db_copy_moves_everything_to_postgresql_and_back(postgres_server, monkeypatch, tmp_path):
    fill_the_default_database()
    before = {
        "incidents": mailsiren_json("incidents", "list", "--state", "all"),
        "mails": mailsiren_json("mails", "list"),
        "deliveries": mailsiren_json("deliveries", "list"),
    }
    assert len(before["mails"]) == 11 and before["incidents"] and before["deliveries"]
    target = postgres_server.new_database(template=None)  # empty: the copy migrates it
    copied = mailsiren("db", "copy", "--to", target)
    assert copied.returncode == 0, copied.stdout + copied.stderr
    assert "counts and checksums agree" in copied.stdout
    assert "✗" not in copied.stdout
    [mail_line] = [line for line in copied.stdout.splitlines() if line.startswith("mail ")]
    assert mail_line.split()[1:5] == ["11", "→", "11", "rows"] and mail_line.endswith("✓")

    monkeypatch.setenv("MAILSIREN_DB", target)
    for name, rows in before.items():
        command = {"incidents": ("incidents", "list", "--state", "all")}.get(name, (name, "list"))
        assert mailsiren_json(*command) == rows, name
    shown = mailsiren("smtp", "show")  # the same key file reads the copied ciphertext
    assert shown.returncode == 0 and "smtp.example.com" in shown.stdout
    # The id sequences start after the copied rows: the next mail gets the next id.
    raw = (
        (FIXTURES / "corpus" / "02-nagios-problem-load.eml")
        .read_bytes()
        .replace(b"Message-ID: <", b"Message-ID: <after-copy-")
    )
    ingested = mailsiren("ingest", "--to", "nagios@alerts.example.com", stdin=raw.decode())
    assert ingested.returncode == 0, ingested.stderr
    assert ingested.stdout.startswith("mail 12 → nagios")

    # And back, into a new SQLite file: the same rows by every table's checksum.
    again = mailsiren("db", "copy", "--to", str(tmp_path / "back.db"))
    assert again.returncode == 0, again.stdout + again.stderr
    with sqlite3.connect(tmp_path / "back.db") as back:
        assert back.execute("SELECT count(*) FROM mail").fetchone() == (12,)
        assert PASSWORD not in repr(back.execute("SELECT * FROM smtp_preference").fetchall())


def test_db_copy_refuses_a_database_that_holds_data(postgres_server, monkeypatch):
    fill_the_default_database()
    target = postgres_server.new_database(template=None)
    assert mailsiren("db", "copy", "--to", target).returncode == 0
    refused = mailsiren("db", "copy", "--to", target)
    assert refused.returncode == 1
    assert "already holds data" in refused.stderr and "Copy into a new, empty" in refused.stderr
    monkeypatch.setenv("MAILSIREN_DB", target)
    assert len(mailsiren_json("mails", "list")) == 11  # nothing was added twice


def test_the_copy_digest_sees_a_changed_row(postgres_server, database, user):
    """The comparison is not a formality: one byte changed on the target shows."""
    from app.core.store.db import open_database

    target = open_database(postgres_server.new_database(template=None), database.keyring)
    try:
        report = copy_database(database, target)
        assert report.same and {t.name for t in report.tables} >= {"mail", "incident"}
        with target.write() as session:
            session.connection().exec_driver_sql("UPDATE user_account SET name = 'mallory'")
        from app.core.store.dbcopy import _digest, _rows, stored_tables

        [users] = [t for t in stored_tables() if t.name == "user_account"]
        with target.read() as session:
            assert _digest(_rows(session.connection(), users)) != next(
                (t.target_rows, t.target_digest) for t in report.tables if t.name == "user_account"
            )
    finally:
        target.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_db_migrate_upgrades_in_place_keeping_every_row(postgres_server, tmp_path, backend):
    """A database left at schema 0003 by the previous version, with a mail received twice."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    from app.core.store.db import MIGRATIONS_DIR

    url = (
        postgres_server.new_database(template=None)
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 'old.db'}"
    )
    engine = create_engine(url)
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        for sha in ("a" * 64, "a" * 64, "b" * 64):  # the first mail came twice
            connection.execute(
                text(
                    "INSERT INTO mail (received_at, via, envelope_to, raw_sha256, size, "
                    "subject, from_header, defects, raw) VALUES (:at, 'smtp', '[]', :sha, 1, "
                    "'s', 'f', '[]', :raw)"
                ),
                {"at": "2026-11-20 10:00:00", "sha": sha, "raw": b"x"},
            )
    engine.dispose()
    first = mailsiren("db", "migrate", env={"MAILSIREN_DB": url})
    assert first.returncode == 0, first.stderr
    assert f"Upgraded the database from schema 0003 to {SCHEMA_HEAD}" in first.stdout
    second = mailsiren("db", "migrate", env={"MAILSIREN_DB": url})
    assert second.returncode == 0 and f"already at schema {SCHEMA_HEAD}" in second.stdout
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, first_copy_sha256 FROM mail ORDER BY id"))
        assert [tuple(row) for row in rows] == [(1, "a" * 64), (2, None), (3, "b" * 64)]
    engine.dispose()
