"""The figures `serve --metrics-port` reports (SPEC §17), read from rows the real pipeline,
lifecycle, outbox, heartbeats and silences wrote. Both backends."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select, text

from app.core.incidents.heartbeats import open_due_heartbeats
from app.core.incidents.silences import add_silence
from app.core.incidents.views import change_state
from app.core.intake.pipeline import REPLIES, ingest_mail
from app.core.intake.sources import save_source
from app.core.metrics import read_figures
from app.core.notifications.integrations import IntegrationSpec, save_integration
from app.core.notifications.org import OrgView, save_org
from app.core.notifications.outbox import SENT, AttemptResult, Outbox, Outgoing
from app.core.store.db import as_utc
from app.core.store.models import Delivery
from tests.clock import T0, Clock
from tests.mails import SOURCE, alert_mail

WATCHDOG = "watchdog@alerts.example.com"


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def sources(database, user, clock) -> None:
    """nagios (a mail, an incident) and watchdog (heartbeat 30 minutes), an integration."""
    save_source(database, user, {"name": "nagios", "address": SOURCE}, clock=clock)
    save_source(database, user, {"name": "watchdog", "address": WATCHDOG}, clock=clock)
    with database.write() as session:  # as the source editor or `config import` would set it
        session.execute(text("UPDATE alert_source SET heartbeat_minutes = 30 WHERE name = 'watchdog'"))  # fmt: skip
    save_integration(database, user, IntegrationSpec("ops@x.example", "all"), confirmed=True)


def send_first_delivery(database, clock: Clock) -> None:
    """The dispatcher's part, without SMTP: the oldest waiting row is sent."""
    outbox = Outbox(database, node="test", clock=clock)
    assert outbox.claim_due(clock())
    with database.read() as session:
        first = session.execute(select(Delivery).order_by(Delivery.id).limit(1)).scalar_one()
    sent = Outgoing(
        (first.id,), first.address, first.owner_id, EmailMessage(), as_utc(first.created_at), 0
    )
    outbox.record([(sent, AttemptResult(SENT, "DATA", "250 2.0.0 Ok"))])
    outbox.release_claim()


def test_an_empty_database_reports_zeros_for_every_source_state_and_status(
    database, sources, clock
):
    figures = read_figures(database, clock=clock)
    assert figures.mails == {}
    assert figures.open_incidents == {
        ("nagios", "pending"): 0, ("nagios", "accepted"): 0,
        ("watchdog", "pending"): 0, ("watchdog", "accepted"): 0,
    }  # fmt: skip
    assert figures.deliveries == {"queued": 0, "sent": 0, "retrying": 0, "failed": 0}
    assert (figures.outbox_depth, figures.outbox_oldest_seconds) == (0, 0.0)
    assert (figures.heartbeats_overdue, figures.active_silences) == (0, 0)


def test_the_figures_follow_mails_triage_deliveries_heartbeats_and_silences(
    database, user, sources, clock
):
    for subject in ("PROBLEM web01 DOWN", "PROBLEM db02 DOWN"):
        ingest_mail(database, alert_mail(subject), [SOURCE], via="smtp", clock=clock)
    looping = alert_mail("Out of office", headers={"Auto-Submitted": "auto-replied"})
    ingest_mail(database, looping, [SOURCE], via="smtp", clock=clock)
    change_state(database, user, "accept", [1], clock=clock)
    clock.advance(minutes=10)

    figures = read_figures(database, clock=clock)
    assert figures.mails == {("nagios", "created"): 2, ("nagios", "loop"): 1}
    assert figures.open_incidents[("nagios", "pending")] == 1
    assert figures.open_incidents[("nagios", "accepted")] == 1
    assert figures.deliveries["queued"] == 2  # one page per incident opened
    assert figures.outbox_depth == 2
    assert figures.outbox_oldest_seconds == 600.0  # queued at T0, not sent 10 minutes on

    send_first_delivery(database, clock)
    change_state(database, user, "resolve", [2], clock=clock)  # pages its resolution
    figures = read_figures(database, clock=clock)
    assert figures.open_incidents[("nagios", "pending")] == 0
    assert figures.deliveries == {"queued": 2, "sent": 1, "retrying": 0, "failed": 0}
    assert figures.outbox_oldest_seconds == 600.0  # incident 2's page is still the oldest

    clock.advance(minutes=21)  # watchdog, saved at T0, has been quiet past its 30 minutes
    assert read_figures(database, clock=clock).heartbeats_overdue == 1
    assert open_due_heartbeats(database, clock=clock) == [3]
    figures = read_figures(database, clock=clock)
    assert figures.heartbeats_overdue == 1  # its incident is open: still overdue
    assert figures.open_incidents[("watchdog", "pending")] == 1

    add_silence(
        database, user, source=None, starts_at=clock(), ends_at=clock() + timedelta(hours=1),
        reason="maintenance", clock=clock,
    )  # fmt: skip
    assert read_figures(database, clock=clock).active_silences == 1
    ingest_mail(
        database, alert_mail("watchdog ping", to=WATCHDOG), [WATCHDOG], via="smtp", clock=clock
    )
    figures = read_figures(database, clock=clock)
    assert figures.heartbeats_overdue == 0  # heard from again: its incident resolved
    assert figures.mails[("watchdog", "created")] == 1
    clock.advance(hours=1)
    assert read_figures(database, clock=clock).active_silences == 0


def test_a_reply_to_a_notification_counts_under_the_replies_label(database, user, sources, clock):
    save_org(database, user, OrgView(reply_address="siren@alerts.example.com"))
    to = "siren+forged@alerts.example.com"  # a token no notification carried: refused
    ingest_mail(database, alert_mail("Re: web01", to=None), [to], via="smtp", clock=clock)
    assert read_figures(database, clock=clock).mails == {(REPLIES, "reply_refused"): 1}
