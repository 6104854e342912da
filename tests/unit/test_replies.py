"""Replies join their incident (SPEC §13): a person's "RE:" whose In-Reply-To or References
names a mail of an incident of the same source is `threaded` into it — whatever the creation
mode, before or after a resolve — and changes no state and pages nobody. Both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.core.incidents.views import list_incidents, list_mails, reply_lines, show_incident
from app.core.intake.mail import parse_mail
from app.core.intake.pipeline import ingest_mail
from app.core.intake.preview import SampleMail, replay
from app.core.intake.sources import parse_source, save_source
from app.core.notifications.integrations import IntegrationSpec, save_integration
from app.core.store.models import Delivery
from tests.clock import T0, Clock
from tests.mails import SOURCE, alert_mail

PROBLEM = "** PROBLEM Service Alert: web01/Disk is CRITICAL **"
RECOVERY = "** RECOVERY Service Alert: web01/Disk is OK **"
BOB = "Bob Smith <bob@ops.example.com>"


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def source(database, user, creation: str, **more) -> None:
    data = {"name": "nagios", "address": SOURCE, "creation": creation, **more}
    save_source(database, user, data)
    save_integration(database, user, IntegrationSpec("ops@x.example", "all"), confirmed=True)


def send(database, clock, raw: bytes):
    clock.advance(minutes=1)
    [outcome] = ingest_mail(database, raw, [SOURCE], via="smtp", clock=clock).outcomes
    return outcome


def reply_to(message_id: str, *, header: str = "In-Reply-To", body: str = "On it. -- bob"):
    return alert_mail(f"RE: {PROBLEM}", body, sender=BOB, headers={header: message_id})


def deliveries(database) -> int:
    with database.read() as session:
        return len(session.exec(select(Delivery)).all())


@pytest.mark.parametrize("creation", ["per_subject", "per_email", "single_open", "by_key"])
@pytest.mark.parametrize("header", ["In-Reply-To", "References"])
def test_a_reply_joins_its_incident_in_every_creation_mode(database, user, clock, creation, header):
    extra = {"key_rule": [{"field": "subject", "extractor": "regex", "pattern": r"(\S+/\S+)"}]}
    source(database, user, creation, **(extra if creation == "by_key" else {}))
    alert = alert_mail(PROBLEM, message_id="<alert-1@mon.example.net>")
    opened = send(database, clock, alert)
    sent_before = deliveries(database)
    references = "<older@mon.example.net> <alert-1@mon.example.net>"
    replied = send(
        database, clock,
        reply_to(references if header == "References" else "<alert-1@mon.example.net>",
                 header=header),
    )  # fmt: skip
    assert (replied.outcome, replied.incident_id) == ("threaded", opened.incident_id)
    assert "a reply to mail" in replied.reason
    [incident] = list_incidents(database, state="all")
    assert (incident.state, incident.mail_count, incident.reply_count) == ("pending", 1, 1)
    assert deliveries(database) == sent_before  # nobody is told of a reply
    detail = show_incident(database, incident.id)
    assert [entry.kind for entry in detail.timeline][-1] == "reply"
    [reply] = detail.replies
    assert (reply.from_, reply.first_lines) == (BOB, ("On it. -- bob",))
    assert [view.outcome for view in list_mails(database, outcome="threaded")] == ["threaded"]


def test_a_reply_after_the_resolve_joins_the_resolved_incident_and_leaves_it_resolved(
    database, user, clock
):
    source(database, user, "single_open", resolve_rule=[
        {"field": "subject", "op": "contains", "value": "RECOVERY"}
    ])  # fmt: skip
    opened = send(database, clock, alert_mail(PROBLEM, message_id="<a1@mon.example.net>"))
    send(database, clock, alert_mail(RECOVERY))
    replied = send(database, clock, reply_to("<a1@mon.example.net>", body="Fixed: log rotation"))
    assert (replied.outcome, replied.incident_id) == ("threaded", opened.incident_id)
    [incident] = list_incidents(database, state="all")
    assert incident.state == "resolved"


def test_a_reply_to_the_recovery_mail_joins_too(database, user, clock):
    source(database, user, "single_open", resolve_rule=[
        {"field": "subject", "op": "contains", "value": "RECOVERY"}
    ])  # fmt: skip
    opened = send(database, clock, alert_mail(PROBLEM))
    send(database, clock, alert_mail(RECOVERY, message_id="<r1@mon.example.net>"))
    replied = send(database, clock, reply_to("<r1@mon.example.net>"))
    assert (replied.outcome, replied.incident_id) == ("threaded", opened.incident_id)


def test_a_reply_to_a_mail_in_no_incident_follows_the_normal_rules(database, user, clock):
    source(database, user, "per_subject", filter=[
        {"field": "subject", "op": "contains", "value": "PROBLEM"}
    ])  # fmt: skip
    send(database, clock, alert_mail("weekly report", message_id="<r@mon.example.net>"))
    replied = send(database, clock, reply_to("<r@mon.example.net>"))
    assert replied.outcome == "created"  # "RE: ** PROBLEM": the filter holds, a new one
    unknown = send(database, clock, reply_to("<never-seen@elsewhere.example>"))
    assert unknown.outcome == "appended"  # same subject as the one just created


def test_a_reply_to_another_sources_mail_does_not_join_across_sources(database, user, clock):
    source(database, user, "per_email")
    save_source(database, user, {"name": "zabbix", "address": "zabbix@alerts.example.com"})
    clock.advance(minutes=1)
    [other] = ingest_mail(
        database, alert_mail("zabbix problem", message_id="<z1@mon.example.net>"),
        ["zabbix@alerts.example.com"], via="smtp", clock=clock,
    ).outcomes  # fmt: skip
    replied = send(database, clock, reply_to("<z1@mon.example.net>"))
    assert replied.outcome == "created" and replied.incident_id != other.incident_id


def test_an_automatic_reply_is_still_a_loop(database, user, clock):
    source(database, user, "per_email")
    send(database, clock, alert_mail(PROBLEM, message_id="<a1@mon.example.net>"))
    automatic = alert_mail(
        f"Out of office: {PROBLEM}", sender=BOB,
        headers={"In-Reply-To": "<a1@mon.example.net>", "Auto-Submitted": "auto-replied"},
    )  # fmt: skip
    assert send(database, clock, automatic).outcome == "loop"


def test_the_preview_threads_a_reply_as_ingest_does():
    spec = parse_source({"name": "nagios", "address": SOURCE, "creation": "per_email"}, "src")
    samples = [
        SampleMail(label=str(n), parsed=parse_mail(raw), raw=raw)
        for n, raw in enumerate(
            (alert_mail(PROBLEM, message_id="<p1@mon.example.net>"),
             reply_to("<p1@mon.example.net>")),
            start=1,
        )
    ]  # fmt: skip
    verdicts = replay(spec, samples)
    assert [(v.outcome, v.incident) for v in verdicts] == [("created", 1), ("threaded", 1)]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("Looking at it now.\n\nOn Sat, Nov 21, 2026 at 03:00 Nagios wrote:\n> ** PROBLEM",
         ("Looking at it now.",)),  # Gmail, top-posted
        ("> ** PROBLEM Service Alert\n> Host: web01\n\nrebooted web01\n", ("rebooted web01",)),
        ("Disk cleaned\r\n\r\n-----Original Message-----\r\nFrom: Nagios\r\n", ("Disk cleaned",)),
        ("ack\n\nFrom: Nagios <nagios@mon.example.net>\nSent: Saturday\n", ("ack",)),
    ],
)  # fmt: skip
def test_a_replys_first_lines_are_what_the_person_wrote(body, said):
    assert reply_lines(body) == said
