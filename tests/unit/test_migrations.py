"""Data migrations do what they say to rows an earlier version wrote (both backends)."""

from __future__ import annotations

from sqlalchemy import text

from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import save_source
from app.core.store.db import SCHEMA_HEAD, open_database
from tests.mails import SOURCE, alert_mail


def test_0006_takes_addresses_out_of_timelines_written_before(database, user):
    save_source(database, user, {"name": "src", "address": SOURCE})
    ingest_mail(database, alert_mail("PROBLEM disk"), [SOURCE], via="smtp")
    with database.write() as session:  # as version 1.0 wrote an escalation step
        session.execute(
            text("UPDATE timeline_event SET detail = :detail"),
            {"detail": "policy ops: step 1 of 1: paged bob@x.example, <Oncall@X.example>"},
        )
        session.execute(text("UPDATE alembic_version SET version_num = '0005'"))
    reopened = open_database(database.url, database.keyring)  # migrates to the head
    try:
        with reopened.read() as session:
            details = session.execute(text("SELECT detail FROM timeline_event")).scalars().all()
            version = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        reopened.dispose()
    assert version == SCHEMA_HEAD
    assert set(details) == {"policy ops: step 1 of 1: paged an address, <an address>"}
