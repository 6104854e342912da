"""`incidents list` through the driver alone: the same incidents as the full open, and the
full open whenever only it can answer (first run, old schema, new login, no server)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app import paths
from app.core.incidents.listing import list_incidents_plainly
from app.core.incidents.views import assign_incident, change_state, show_incident
from app.core.store.plain import SCHEMA_HEAD
from app.core.store.secrets import load_or_create_keyring
from app.core.workspace import read_plainly
from tests.as_operator import operator_login
from tests.postgres import sqlite_only
from tests.unit.test_engine import mail, send, source


@pytest.fixture
def plain_database(database, user, monkeypatch):
    """The test's database as the workspace's, with its key file where the CLI looks."""
    monkeypatch.setenv("MAILSIREN_DB", database.url)
    load_or_create_keyring(paths.key_file())
    return database


def listed(state: str = "all", source_name: str | None = None, limit: int = 100):
    return read_plainly(
        lambda connection: list_incidents_plainly(
            connection, state=state, source=source_name, limit=limit
        )
    )


def test_a_plain_read_lists_what_the_full_open_shows(plain_database, user):
    database = plain_database
    source(database, user, creation="per_email", severity="warning")
    ids = [send(database, mail(f"disk {n}"))[1] for n in range(6)]
    change_state(database, user, "accept", ids[:2])
    change_state(database, user, "resolve", ids[2:3])
    assign_incident(database, user, ids[0], user.name)
    everything = listed()
    # newest change first: the assignment, the resolve, then the accept (of two at once)
    assert [view.id for view in everything] == [ids[0], ids[2], ids[1], *reversed(ids[3:])]
    for view in everything:  # field by field as the ORM reads it, times in ISO 8601 UTC
        assert view == show_incident(database, view.id).incident
        assert view.updated_at.endswith("Z") and "T" in view.updated_at
    assert [view.id for view in listed("open")] == [ids[0], ids[1], *reversed(ids[3:])]
    assert [view.id for view in listed("resolved")] == [ids[2]]
    assert [view.id for view in listed("accepted", "src", limit=1)] == [ids[0]]
    assert listed("open", "other") == []


def test_a_plain_read_gives_way_when_only_the_full_open_can_answer(plain_database, monkeypatch):
    database = plain_database
    assert listed() == []  # it can answer: nothing to list
    monkeypatch.setattr("app.core.workspace.current_login", lambda: "zed")
    assert listed() is None  # a login seen for the first time: the full open adds it
    monkeypatch.setattr("app.core.workspace.current_login", operator_login)
    with database.write() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0010'"))
    assert listed() is None  # a schema to upgrade
    with database.write() as session:
        session.execute(text(f"UPDATE alembic_version SET version_num = '{SCHEMA_HEAD}'"))
    assert listed() == []
    paths.key_file().unlink()
    assert listed() is None  # no key file: the full open makes one


@sqlite_only
def test_a_plain_read_gives_way_to_a_missing_or_broken_sqlite_file(
    plain_database, tmp_path, monkeypatch
):
    monkeypatch.setenv("MAILSIREN_DB", f"sqlite:///{tmp_path / 'none' / 'mailsiren.db'}")
    assert listed() is None  # the full open creates it
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database at all" * 100)
    monkeypatch.setenv("MAILSIREN_DB", f"sqlite:///{broken}")
    assert listed() is None  # the full open says what is wrong with it


def test_a_plain_read_gives_way_when_the_server_cannot_be_reached(plain_database, monkeypatch):
    monkeypatch.setenv("MAILSIREN_DB", "postgresql+psycopg://postgres@127.0.0.1:1/mailsiren")
    assert listed() is None  # the full open says which server, and what to do
