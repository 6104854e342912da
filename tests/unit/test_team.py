"""Several listeners, notifiers and operators on one database: races decided by the database.

Each test runs on both backends. On PostgreSQL the second writer really runs while the first
is inside its transaction (the test waits until the server shows it blocked on a lock); on
SQLite writers take turns by design (BEGIN IMMEDIATE), and the same outcome must hold.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, text

from app.core.incidents.escalation import parse_policy, save_policy, take_due_steps
from app.core.incidents.views import IncidentError, change_state, show_incident
from app.core.intake.pipeline import BatchReads, IncomingMail, _store
from app.core.notifications.integrations import IntegrationSpec, save_integration
from app.core.store.changes import database_token
from app.core.store.db import Database, open_database, utc_now
from app.core.store.models import Delivery, Incident, TimelineEvent
from tests.postgres import postgresql_only
from tests.unit.test_engine import ADDRESS, BY_KEY, mail, send, source


@pytest.fixture
def other(database: Database) -> Iterator[Database]:
    """A second process on the same database: its own engine and connections."""
    second = open_database(database.url, database.keyring)
    yield second
    second.dispose()


def outcome_of(database: Database, raw: bytes) -> tuple[str, int | None]:
    return send(database, raw)[:2]


@contextmanager
def half_stored(database: Database, raw: bytes) -> Iterator[tuple[str, int | None]]:
    """A listener that has stored a mail and not committed yet; it commits on exit."""
    with database.write() as session:
        connection = session.connection()
        incoming = IncomingMail(raw, (ADDRESS,), "smtp")
        [outcome] = _store(connection, incoming, utc_now(), BatchReads(connection)).outcomes
        yield outcome.outcome, outcome.incident_id


def wait_until_blocked(database: Database) -> None:
    """PostgreSQL: until another session waits for a lock this test holds. (SQLite's second
    writer waits in BEGIN IMMEDIATE, which no view shows: nothing to wait for there.)"""
    if database.is_sqlite:
        return
    deadline = time.monotonic() + 20
    with database.engine.connect() as connection:
        while True:
            waiting = connection.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            ).scalar()
            connection.rollback()  # a new snapshot for the next look
            if waiting:
                return
            assert time.monotonic() < deadline, "the second writer never reached the lock"


def during(database: Database, raw: bytes, second_runs):
    """`raw` half stored by `database` while `second_runs()` starts: both outcomes."""
    with ThreadPoolExecutor(1) as pool:
        with half_stored(database, raw) as first:
            second = pool.submit(second_runs)
            wait_until_blocked(database)
        return first, second.result(timeout=60)


def test_the_same_mail_at_two_listeners_at_once_is_processed_once(database, other, user):
    source(database, user, creation="per_email")
    raw = mail("PROBLEM disk full")
    first, second = during(database, raw, lambda: outcome_of(other, raw))
    assert first[0] == "created"
    assert second == ("duplicate", first[1])
    with database.read() as session:
        assert session.execute(select(func.count()).select_from(Incident)).scalar() == 1


def test_two_mails_of_one_key_at_two_listeners_open_one_incident(database, other, user):
    source(database, user, **BY_KEY)
    first, second = during(
        database,
        mail("PROBLEM host=web01 check=disk"),
        lambda: outcome_of(other, mail("PROBLEM again host=web01 check=disk")),
    )
    assert first[0] == "created" and second == ("appended", first[1])
    assert show_incident(database, first[1]).incident.mail_count == 2


def test_a_trigger_racing_a_recovery_opens_a_new_incident(database, other, user):
    source(database, user, **BY_KEY)
    opened = outcome_of(database, mail("PROBLEM host=web01 check=disk"))
    resolved, trigger = during(
        database,
        mail("OK host=web01 check=disk"),
        lambda: outcome_of(other, mail("PROBLEM host=web01 check=disk")),
    )
    assert resolved == ("resolved", opened[1])
    # It found the incident open, waited for its row, found it resolved and was redone.
    assert trigger[0] == "created" and trigger[1] != opened[1]
    assert show_incident(database, opened[1]).incident.mail_count == 2


@pytest.mark.parametrize("creation", ["per_subject", "single_pending", "single_open"])
def test_creation_modes_without_a_key_take_turns_per_source(database, other, user, creation):
    source(database, user, creation=creation)
    first, second = during(
        database, mail("disk full on web01"), lambda: outcome_of(other, mail("disk full on web01"))
    )
    assert first[0] == "created" and second == ("appended", first[1])


def test_two_operators_accepting_at_once_accept_once(database, other, user):
    source(database, user, creation="per_email")
    incidents = [outcome_of(database, mail(f"PROBLEM {n}"))[1] for n in range(12)]
    start = threading.Barrier(2)

    def operator(db: Database) -> list[str]:
        results = []
        for incident_id in incidents:
            start.wait()
            try:
                change_state(db, user, "accept", [incident_id])
                results.append("accepted")
            except IncidentError as refused:
                results.append(str(refused))
        return results

    with ThreadPoolExecutor(2) as pool:
        mine, theirs = pool.map(operator, [database, other])
    for result in zip(mine, theirs, strict=True):
        assert result.count("accepted") == 1, result
        assert any("is accepted: it cannot be accepted" in said for said in result), result
    with database.read() as session:
        accepts = session.execute(
            select(func.count()).select_from(TimelineEvent).where(TimelineEvent.kind == "accepted")
        ).scalar()
    assert accepts == len(incidents)


def test_two_notifiers_take_each_escalation_step_once(database, other, user):
    save_policy(database, user, parse_policy(
        {"name": "ops", "step": [{"targets": ["lead@x.example"], "delay_minutes": 0}]}, "p"
    ))  # fmt: skip
    source(database, user, creation="per_email", escalation_policy="ops")
    incidents = {outcome_of(database, mail(f"PROBLEM {n}"))[1] for n in range(40)}
    later = utc_now() + timedelta(minutes=1)
    start = threading.Barrier(2)

    def notifier(db: Database) -> list[int]:
        start.wait()
        return [step.incident_id for step in take_due_steps(db, clock=lambda: later)]

    with ThreadPoolExecutor(2) as pool:
        mine, theirs = pool.map(notifier, [database, other])
    assert sorted(mine + theirs) == sorted(incidents)  # every step, each by one notifier
    with database.read() as session:
        escalated = session.execute(
            select(func.count()).select_from(Delivery).where(Delivery.event == "incident_escalated")
        ).scalar()
    assert escalated == len(incidents)


@postgresql_only
def test_screens_see_a_commit_whose_id_is_older_than_one_already_seen(database, other, user):
    """PostgreSQL hands out ids at insert and commits in any order: the newest id alone
    would hide the slower transaction's change from every screen."""
    source(database, user, creation="per_email")
    incident_id = outcome_of(database, mail("PROBLEM"))[1]
    row = dict(incident_id=incident_id, at=utc_now(), kind="note", detail="")
    with database.write() as slow:
        slow.execute(insert(TimelineEvent).values(**row))  # the older id, not committed
        with other.write() as fast:
            fast.execute(insert(TimelineEvent).values(**row))
        seen = database_token(database)
    # PostgreSQL delivers the commit's NOTIFY a moment later: within the screens' second.
    deadline = time.monotonic() + 1.0
    while database_token(database) == seen:
        assert time.monotonic() < deadline, "the slower commit stayed unseen for 1 s"


def test_an_integration_saved_on_one_host_routes_on_another(database, other, user):
    save_integration(database, user, IntegrationSpec("ops@example.com", "all"), confirmed=True)
    source(database, user, creation="per_email")
    incident_id = outcome_of(other, mail("PROBLEM"))[1]
    with other.read() as session:
        queued = session.execute(
            select(Delivery.address).where(Delivery.incident_id == incident_id)
        ).scalars()
        assert list(queued) == ["ops@example.com"]


def test_overlong_header_values_are_stored_on_either_backend(database, user):
    """PostgreSQL enforces column lengths that SQLite ignores: a 2,000-character Message-ID
    or an 800-character key must still be stored (clipped), never a 451 forever."""
    source(database, user, creation="by_key", key_rule=[
        {"field": "subject", "extractor": "after", "start": "PROBLEM "}
    ])  # fmt: skip
    raw = mail("PROBLEM " + "k" * 800).replace(b"Message-ID: <", b"Message-ID: <" + b"m" * 2000, 1)
    outcome, incident_id = outcome_of(database, raw)
    assert outcome == "created"
    assert show_incident(database, incident_id).incident.key == "k" * 512
    assert outcome_of(database, raw)[0] == "duplicate"  # and the copy is still recognised


def test_an_unreachable_server_is_named_without_its_password(tmp_path):
    from app.core.store.db import DatabaseError
    from app.core.store.secrets import load_or_create_keyring
    from tests.e2e.peers import free_port

    url = f"postgresql+psycopg://mailsiren:s3cret-pw@127.0.0.1:{free_port()}/mailsiren"
    with pytest.raises(DatabaseError) as refused:
        open_database(url, load_or_create_keyring(tmp_path / "k.key"))
    message = str(refused.value)
    assert "s3cret-pw" not in message and "mailsiren:***@127.0.0.1" in message
    assert "Connection refused" in message and "MAILSIREN_DB" in message
