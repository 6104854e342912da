"""Severity and title from the mail (SPEC §12) through the pipeline: one Nagios source's
CRITICAL and WARNING mails reach different integrations; a worse append raises the
incident and notifies the new level. Both backends."""

from __future__ import annotations

from sqlalchemy import select

from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import save_source
from app.core.notifications.integrations import IntegrationSpec, save_integration
from app.core.store.models import Delivery, Incident, TimelineEvent
from tests.clock import T0
from tests.mails import alert_mail

SOURCE = "nagios@alerts.example.com"
NAGIOS = {
    "name": "nagios",
    "address": SOURCE,
    "severity": "info",
    "creation": "by_key",
    "key_rule": [{"field": "subject", "extractor": "regex", "pattern": r"Alert: (\S+/\S+)"}],
    "severity_rule": [
        {"field": "subject", "op": "contains", "value": "is CRITICAL", "severity": "alert"},
        {"field": "subject", "op": "contains", "value": "is WARNING", "severity": "warning"},
    ],
    "title_rule": {"field": "subject", "extractor": "regex", "pattern": r"Alert: (.+) is"},
}


def nagios(state: str) -> bytes:
    return alert_mail(f"** PROBLEM Service Alert: web01/Disk is {state} **")


def deliveries(database) -> list[tuple[str, str, str]]:
    with database.read() as session:
        rows = session.exec(select(Delivery).order_by(Delivery.id)).scalars()
        return [(row.address, row.event, str(row.incident_id)) for row in rows]


def test_critical_and_warning_reach_their_own_integrations_and_a_worse_append_raises(
    database, user
):
    save_source(database, user, NAGIOS, clock=lambda: T0)
    for address, level in (("pager@x.example", "alert"), ("chat@x.example", "warning")):
        save_integration(database, user, IntegrationSpec(address, level), confirmed=True)
    ingest_mail(database, nagios("WARNING"), [SOURCE], via="smtp", clock=lambda: T0)
    with database.read() as session:
        incident = session.get(Incident, 1)
        assert (incident.severity, incident.title) == ("warning", "web01/Disk")
    assert deliveries(database) == [("chat@x.example", "incident_opened", "1")]
    ingest_mail(database, nagios("CRITICAL"), [SOURCE], via="smtp", clock=lambda: T0)
    with database.read() as session:
        assert session.get(Incident, 1).severity == "alert"
        details = session.exec(select(TimelineEvent.detail)).scalars().all()
    assert "severity warning → alert" in details
    assert deliveries(database)[1:] == [("pager@x.example", "incident_retriggered", "1")]
    ingest_mail(database, nagios("WARNING"), [SOURCE], via="smtp", clock=lambda: T0)
    with database.read() as session:
        assert session.get(Incident, 1).severity == "alert"  # never drops by itself
        details = session.exec(select(TimelineEvent.detail)).scalars().all()
    assert details.count("severity warning → alert") == 1


def test_no_rule_holding_gives_the_sources_severity(database, user):
    save_source(database, user, NAGIOS, clock=lambda: T0)
    ingest_mail(database, nagios("UNKNOWN"), [SOURCE], via="smtp", clock=lambda: T0)
    with database.read() as session:
        incidents = session.exec(select(Incident)).scalars().all()
    assert [(i.severity, i.title) for i in incidents] == [("info", "web01/Disk")]


def test_a_source_saved_twice_in_one_instant_is_read_with_its_new_rules(database, user):
    plain = {key: value for key, value in NAGIOS.items() if key != "severity_rule"}
    save_source(database, user, plain, clock=lambda: T0)
    ingest_mail(database, nagios("CRITICAL"), [SOURCE], via="smtp", clock=lambda: T0)
    save_source(database, user, NAGIOS, original="nagios", clock=lambda: T0)  # same updated_at
    mail = alert_mail("** PROBLEM Service Alert: db02/Load is CRITICAL **")
    ingest_mail(database, mail, [SOURCE], via="smtp", clock=lambda: T0)
    with database.read() as session:
        severities = session.exec(select(Incident.severity).order_by(Incident.id)).scalars().all()
    assert severities == ["info", "alert"]
