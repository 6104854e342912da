"""Data migrations do what they say to rows an earlier version wrote (both backends)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.core.store.db import MIGRATIONS_DIR, SCHEMA_HEAD, open_database
from app.core.store.secrets import new_keyring


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0006_and_0007_keep_every_row_and_take_addresses_out_of_old_timelines(
    postgres_server, tmp_path, backend
):
    """A database version 1.0 left at schema 0005, with an escalation step's timeline that
    named its addresses; opening it migrates to the head."""
    database_url, old = database_at(postgres_server, tmp_path, backend, "0005")
    with old.begin() as connection:
        connection.execute(text(
            "INSERT INTO incident (source_id, state, severity, title, subject_key, mail_count, "
            "created_at, updated_at) SELECT id, 'pending', 'alert', 't', 't', 1, "
            "'2026-11-20 10:00:00', '2026-11-20 10:00:00' FROM alert_source"
        ))  # fmt: skip
        for detail in ("opened by mail 1", DETAIL_1_0):
            connection.execute(
                text(
                    "INSERT INTO timeline_event (incident_id, at, kind, detail) SELECT id, "
                    "'2026-11-20 10:00:00', 'escalated', :detail FROM incident"
                ),
                {"detail": detail},
            )
    old.dispose()
    migrated = open_database(database_url, new_keyring())
    try:
        with migrated.read() as session:
            details = session.execute(text("SELECT detail FROM timeline_event ORDER BY id"))
            version = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
            incidents = session.execute(text("SELECT count(*) FROM incident")).scalar()
            details = list(details.scalars())
    finally:
        migrated.dispose()
    assert version == SCHEMA_HEAD and incidents == 1
    assert details == [
        "opened by mail 1",
        "policy ops: step 1 of 1: paged an address, <an address>",
    ]


def database_at(postgres_server, tmp_path, backend: str, revision: str):
    """(url, engine) of a new database migrated to `revision`, with one source 'src'."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    database_url = (
        postgres_server.new_database(template=None)
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 'old.db'}"
    )
    old = create_engine(database_url)
    with old.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.execute(text(
            "INSERT INTO alert_source (name, address, severity, creation, on_no_key, "
            "filter_match, resolve_match, filters, key_rules, resolve_rules, enabled, "
            "updated_at) VALUES ('src', 'src@a.example', 'alert', 'per_email', 'drop', 'all', "
            "'any', '[]', '[]', '[]', true, '2026-11-20 10:00:00')"
        ))  # fmt: skip
    return database_url, old


DETAIL_1_0 = "policy ops: step 1 of 1: paged bob@x.example, <Oncall@X.example>"


def test_the_migrations_build_the_schema_the_models_describe(database):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, SQLModel.metadata)
        if database.is_sqlite:
            differences = _without_unreflected_on_delete(connection, differences)
    assert differences == []


def _without_unreflected_on_delete(connection, differences: list) -> list:
    """SQLAlchemy does not read ON DELETE back from a column's own REFERENCES clause (how
    SQLite adds a referencing column, migration 0007): a pair that differs only there is
    kept out when the table's DDL says it."""

    def shape(foreign_key):
        columns = tuple(column.name for column in foreign_key.columns)
        return foreign_key.table.name, columns, foreign_key.elements[0].target_fullname

    added = {shape(d[1]): d[1] for d in differences if d[0] == "add_fk"}
    kept, explained = [], set()
    for difference in differences:
        if difference[0] == "remove_fk" and shape(difference[1]) in added:
            wanted = added[shape(difference[1])]
            table, (column,), target = shape(wanted)
            ddl = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = ?", (table,)
            ).scalar()
            referenced, key = target.split(".")
            clause = f"{column} INTEGER REFERENCES {referenced} ({key}) ON DELETE {wanted.ondelete}"
            if clause in ddl:
                explained.add(shape(wanted))
                continue
        kept.append(difference)
    return [d for d in kept if not (d[0] == "add_fk" and shape(d[1]) in explained)]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0008_dates_each_incidents_last_alert_mail_from_its_timeline(
    postgres_server, tmp_path, backend
):
    """An incident from before 0008 gets `last_mail_at` from its newest created/mail event
    (so auto_resolve_minutes counts from the right time), and 0 replies."""
    database_url, old = database_at(postgres_server, tmp_path, backend, "0007")
    with old.begin() as connection:
        for number in (1, 2):
            connection.execute(text(
                "INSERT INTO mail (received_at, via, envelope_to, raw_sha256, size, subject, "
                "from_header, defects, raw) VALUES ('2026-11-20 10:00:00', 'smtp', '[]', "
                f"'{number}', 1, 's', 'f', '[]', :raw)"
            ), {"raw": b"x"})  # fmt: skip
        connection.execute(text(
            "INSERT INTO incident (source_id, state, severity, title, subject_key, mail_count, "
            "created_at, updated_at) SELECT id, 'pending', 'alert', 't', 't', 2, "
            "'2026-11-20 10:00:00', '2026-11-20 12:00:00' FROM alert_source"
        ))  # fmt: skip
        for at, kind, mail in (
            ("2026-11-20 10:00:00", "created", 1), ("2026-11-20 10:30:00", "mail", 2),
            ("2026-11-20 12:00:00", "accepted", None),
        ):  # fmt: skip
            connection.execute(
                text(
                    "INSERT INTO timeline_event (incident_id, at, kind, mail_id, detail) "
                    "SELECT id, :at, :kind, :mail, '' FROM incident"
                ),
                {"at": at, "kind": kind, "mail": mail},
            )
    old.dispose()
    migrated = open_database(database_url, new_keyring())
    try:
        with migrated.read() as session:
            last, replies = session.execute(
                text("SELECT last_mail_at, reply_count FROM incident")
            ).one()
    finally:
        migrated.dispose()
    assert str(last).startswith("2026-11-20 10:30:00") and replies == 0
