"""An incident's notifications as its detail shows them: address, event, status, and when
each reached its status (sent, last tried, queued), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import save_source
from app.core.notifications.deliveries import delivery_counts, list_deliveries
from app.core.notifications.integrations import IntegrationSpec, save_integration
from app.core.store.models import Delivery, DeliveryAttempt
from tests.clock import T0


def test_each_delivery_says_when_it_reached_its_status(database, user):
    save_source(database, user, {"name": "src", "address": "src@alerts.example.com"})
    for address in ("sent@x.example", "failed@x.example", "queued@x.example"):
        save_integration(database, user, IntegrationSpec(address, "all"), confirmed=True)
    mail = b"From: m@example.com\r\nSubject: PROBLEM web01\r\n\r\nHost web01 is DOWN\r\n"
    ingest_mail(database, mail, ["src@alerts.example.com"], via="ingest", clock=lambda: T0)
    with database.write() as session:
        by_address = {row.address: row for row in session.exec(select(Delivery)).all()}
        sent, failed = by_address["sent@x.example"], by_address["failed@x.example"]
        sent.status, sent.sent_at = "sent", T0 + timedelta(minutes=1)
        failed.status = "failed"
        for minutes in (2, 7):
            session.add(
                DeliveryAttempt(
                    delivery_id=failed.id, at=T0 + timedelta(minutes=minutes),
                    outcome="permanent", stage="RCPT TO", reply="550 5.1.1 unknown",
                )
            )  # fmt: skip
        session.add_all([sent, failed])
    views = {view.address: view for view in list_deliveries(database, user, incident_id=1)}
    assert views["sent@x.example"].happened_at == T0 + timedelta(minutes=1)
    assert views["failed@x.example"].last_attempt_at == T0 + timedelta(minutes=7)
    assert views["failed@x.example"].happened_at == T0 + timedelta(minutes=7)
    assert views["queued@x.example"].last_attempt_at is None
    assert views["queued@x.example"].happened_at == views["queued@x.example"].created_at
    assert list_deliveries(database, user, incident_id=2) == []
    assert delivery_counts(database, user) == {"queued": 1, "retrying": 0, "sent": 1, "failed": 1}
