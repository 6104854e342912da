"""Heartbeats (SPEC §11): a quiet source opens one incident on time, the next mail resolves
it, a silence holds it, and two serves never open it twice. Both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app.core.incidents.heartbeats import (
    open_due_heartbeats,
    open_heartbeat,
    overdue,
    read_heartbeats,
)
from app.core.incidents.silences import add_silence
from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import save_source
from app.core.notifications.integrations import IntegrationSpec, save_integration
from app.core.store.models import Delivery, Incident
from tests.clock import T0, Clock
from tests.mails import alert_mail

SOURCE = "watchdog@alerts.example.com"


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def watched(database, user, clock):
    """A source whose heartbeat is 30 minutes, saved at T0, and an integration for all."""
    save_source(database, user, {"name": "watchdog", "address": SOURCE}, clock=clock)
    with database.write() as session:  # as the source editor or `config import` would set it
        session.execute(text("UPDATE alert_source SET heartbeat_minutes = 30"))
    save_integration(database, user, IntegrationSpec("ops@x.example", "all"), confirmed=True)


def incidents(database) -> list[Incident]:
    with database.read() as session:
        return list(session.exec(select(Incident).order_by(Incident.id)).scalars())


def pages(database) -> list[tuple[int, str]]:
    with database.read() as session:
        rows = session.exec(select(Delivery.incident_id, Delivery.event).order_by(Delivery.id))
        return [tuple(row) for row in rows]


def test_a_quiet_source_opens_its_heartbeat_incident_on_time_once(database, clock, watched):
    clock.advance(minutes=29, seconds=59)
    assert open_due_heartbeats(database, clock=clock) == []
    clock.advance(seconds=1)
    assert open_due_heartbeats(database, clock=clock) == [1]
    [incident] = incidents(database)
    assert (incident.key, incident.state, incident.title) == (
        "heartbeat", "pending", "No mail from watchdog for 30 minutes",
    )  # fmt: skip
    assert pages(database) == [(1, "incident_opened")]
    clock.advance(hours=5)
    assert open_due_heartbeats(database, clock=clock) == []  # one open at a time
    [beat] = read_heartbeats(database).values()
    assert beat.describe(clock()) == "overdue (#1)"


def test_the_next_mail_resolves_it_and_the_clock_runs_from_that_mail(database, clock, watched):
    clock.advance(minutes=30)
    open_due_heartbeats(database, clock=clock)
    clock.advance(minutes=5)
    ingest_mail(database, alert_mail("Watchdog"), [SOURCE], via="smtp", clock=clock)
    heartbeat = incidents(database)[0]
    assert (heartbeat.state, heartbeat.resolved_by) == ("resolved", "heartbeat")
    [beat] = read_heartbeats(database).values()
    assert beat.due_at == clock() + timedelta(minutes=30)
    assert beat.describe(clock() + timedelta(minutes=26)) == "due in 4m"
    clock.advance(minutes=29)
    assert open_due_heartbeats(database, clock=clock) == []
    clock.advance(minutes=1)
    assert open_due_heartbeats(database, clock=clock) != []


def test_a_mail_keeps_the_heartbeat_from_opening(database, clock, watched):
    clock.advance(minutes=20)
    ingest_mail(database, alert_mail("Watchdog"), [SOURCE], via="smtp", clock=clock)
    clock.advance(minutes=20)  # 40 minutes after the save, 20 after the mail
    assert open_due_heartbeats(database, clock=clock) == []


def test_a_silence_holds_the_heartbeat_incident(database, user, clock, watched):
    add_silence(
        database, user, source="watchdog", starts_at=T0, ends_at=T0 + timedelta(hours=2),
        reason="monitoring host rebuilt", clock=clock,
    )  # fmt: skip
    clock.advance(minutes=30)
    assert open_due_heartbeats(database, clock=clock) == [1]
    assert pages(database) == []
    assert incidents(database)[0].silenced_by == 1


def test_two_serves_that_both_found_it_due_open_it_once(database, clock, watched):
    clock.advance(minutes=30)
    first_serve, second_serve = overdue(database, clock()), overdue(database, clock())
    assert open_heartbeat(database, first_serve[0], clock()) == 1
    assert open_heartbeat(database, second_serve[0], clock()) is None  # the index refused it
    assert len(incidents(database)) == 1 and pages(database) == [(1, "incident_opened")]
