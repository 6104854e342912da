"""Events → outbox rows: level routing, one row per (event, address), notify_on, escalation,
the loop shield and header safety, on a real SQLite file with an injected clock."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from app.core.incidents.escalation import (
    EscalationError,
    delete_policy,
    parse_policy,
    save_policy,
    take_due_steps,
)
from app.core.incidents.views import change_state, show_incident
from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import SourceError, save_source
from app.core.notifications.deliveries import list_deliveries
from app.core.notifications.integrations import (
    IntegrationError,
    IntegrationSpec,
    NeedsConfirmation,
    list_integrations,
    parse_integration,
    remove_integration,
    save_integration,
)
from app.core.notifications.notice import build_message, header_safe
from app.core.notifications.org import OrgView, save_org
from app.core.sending.diagnosis import advice_for_reply
from app.core.store.models import Delivery
from app.core.users import PermissionDenied, add_user, ensure_user
from tests.clock import T0, Clock
from tests.mails import alert_mail

# The source's alert mail: two lines of body, and no Message-ID unless a test gives one.
alert = partial(
    alert_mail,
    body="Host web01 is DOWN\nsecond line",
    to="src@alerts.example.com",
    message_id=False,
)


def source(database, user, name="src", severity="alert", policy=None):
    data = {"name": name, "address": f"{name}@alerts.example.com", "severity": severity}
    if policy:
        data["escalation_policy"] = policy
    save_source(database, user, data)


def integrate(database, user, address, level="all", and_above=False):
    spec = IntegrationSpec(address, level, and_above)
    return save_integration(database, user, spec, confirmed=True)


def open_incident(database, name="src", subject="PROBLEM web01", clock=None):
    result = ingest_mail(
        database, alert(subject), [f"{name}@alerts.example.com"], via="ingest",
        clock=clock or (lambda: T0),
    )  # fmt: skip
    return result.outcomes[0].incident_id


def deliveries(database, user, incident_id=None):
    return sorted(
        (d.event, d.address) for d in list_deliveries(database, user, incident_id=incident_id)
    )


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("alert", {"all@x.example", "alert@x.example", "warn-up@x.example"}),
        ("warning", {"all@x.example", "warn@x.example", "warn-up@x.example"}),
        ("info", {"all@x.example", "info@x.example"}),
    ],
)
def test_levels_route_exactly_or_and_above(database, user, severity, expected):
    integrate(database, user, "all@x.example", "all")
    integrate(database, user, "alert@x.example", "alert")
    integrate(database, user, "warn@x.example", "warning")
    integrate(database, user, "warn-up@x.example", "warning", and_above=True)
    integrate(database, user, "info@x.example", "info")
    source(database, user, severity=severity)
    incident_id = open_incident(database)
    assert {address for _, address in deliveries(database, user, incident_id)} == expected


def test_an_event_sends_one_mail_per_address_whatever_the_configuration(database, user):
    save_policy(database, user, parse_policy(
        {"name": "ops", "step": [{"targets": ["OPS@x.example", "ops@x.example"]}]}, "policy"
    ))  # fmt: skip
    integrate(database, user, "ops@x.example", "all")
    integrate(database, user, "Ops@X.example", "alert")
    source(database, user, policy="ops")
    incident_id = open_incident(database)
    take_due_steps(database, clock=lambda: T0)
    assert deliveries(database, user, incident_id) == [
        ("incident_escalated", "ops@x.example"),
        ("incident_opened", "ops@x.example"),
    ]
    # The rule is the database's own: a second row for the same event and address fails.
    with database.write() as session:
        row = session.execute(select(Delivery.__table__)).first()._asdict()
        row.pop("id")
        with pytest.raises(IntegrityError), session.begin_nested():
            session.execute(insert(Delivery.__table__).values(**row))


def test_notify_on_decides_which_events_send_mail(database, user):
    integrate(database, user, "ops@x.example")
    source(database, user)
    incident_id = open_incident(database)
    change_state(database, user, "accept", [incident_id])
    change_state(database, user, "resolve", [incident_id])
    assert deliveries(database, user) == [
        ("incident_opened", "ops@x.example"),
        ("incident_resolved", "ops@x.example"),
    ]  # accepted is not in the default notify_on
    save_org(database, user, OrgView(notify_on=("incident_accepted", "incident_retriggered")))
    change_state(database, user, "reopen", [incident_id])
    change_state(database, user, "accept", [incident_id])
    assert [event for event, _ in deliveries(database, user)].count("incident_accepted") == 1
    assert [event for event, _ in deliveries(database, user)].count("incident_retriggered") == 1


def test_a_disabled_integration_receives_nothing(database, user):
    spec = IntegrationSpec("ops@x.example", enabled=False)
    save_integration(database, user, spec, confirmed=True)
    source(database, user)
    open_incident(database)
    assert deliveries(database, user) == []


def test_escalation_pages_steps_in_order_while_pending_and_accept_stops_it(database, user):
    add_user(database, user, "bob", email="bob@x.example")
    policy = parse_policy(
        {
            "name": "ops",
            "repeat": 1,
            "step": [
                {"targets": ["first@x.example"], "delay_minutes": 0},
                {"targets": ["bob"], "delay_minutes": 5},
            ],
        },
        "policy",
    )
    save_policy(database, user, policy)
    source(database, user, policy="ops")
    clock = Clock()
    incident_id = open_incident(database, clock=clock)

    def paged():
        return [
            address for event, address in deliveries(database, user, incident_id)
            if event == "incident_escalated"
        ]  # fmt: skip

    assert [s.step for s in take_due_steps(database, clock=clock)] == [1]
    clock.advance(minutes=4, seconds=59)
    assert take_due_steps(database, clock=clock) == []
    clock.advance(seconds=1)
    assert [(s.step, s.paged) for s in take_due_steps(database, clock=clock)] == [
        (2, ("bob@x.example",))
    ]
    # repeat 1: step 1 again (delay 0 after step 2), then the run is over after step 2.
    assert [s.step for s in take_due_steps(database, clock=clock)] == [1]
    assert paged() == ["bob@x.example", "first@x.example", "first@x.example"]
    change_state(database, user, "accept", [incident_id], clock=clock)
    clock.advance(hours=1)
    assert take_due_steps(database, clock=clock) == []
    timeline = [(e.kind, e.detail) for e in show_incident(database, incident_id).timeline]
    assert ("escalation", "escalation stopped: accepted by alice") in timeline
    assert [kind for kind, _ in timeline].count("escalated") == 3


def test_resolve_by_mail_stops_the_escalation(database, user):
    save_policy(database, user, parse_policy(
        {"name": "ops", "step": [{"targets": ["a@x.example"], "delay_minutes": 10}]}, "p"
    ))  # fmt: skip
    save_source(
        database, user,
        {"name": "src", "address": "src@alerts.example.com", "escalation_policy": "ops",
         "creation": "single_open", "resolve_rule": [{"field": "subject", "op": "contains",
                                                      "value": "RECOVERY"}]},
    )  # fmt: skip
    incident_id = open_incident(database)
    ingest_mail(database, alert("RECOVERY web01"), ["src@alerts.example.com"], via="ingest")
    assert take_due_steps(database, clock=lambda: T0 + timedelta(hours=1)) == []
    details = [e.detail for e in show_incident(database, incident_id).timeline]
    assert "escalation stopped: resolved by a recovery mail" in details


def test_policies_are_validated_and_a_used_one_cannot_be_deleted(database, user):
    with pytest.raises(EscalationError, match="step 1: delay_minutes"):
        parse_policy(
            {"name": "ops", "step": [{"targets": ["a@x.example"], "delay_minutes": -1}]}, "p"
        )
    with pytest.raises(EscalationError, match="needs at least one"):
        parse_policy({"name": "ops"}, "p")
    with pytest.raises(EscalationError, match="'nobody' is neither an address nor"):
        save_policy(
            database, user, parse_policy({"name": "ops", "step": [{"targets": ["nobody"]}]}, "p")
        )
    with pytest.raises(SourceError, match="escalation_policy 'ops' does not exist"):
        source(database, user, policy="ops")
    save_policy(
        database, user, parse_policy({"name": "ops", "step": [{"targets": ["a@x.example"]}]}, "p")
    )
    source(database, user, policy="ops")
    with pytest.raises(EscalationError, match="the sources src use the policy ops"):
        delete_policy(database, user, "ops")


def test_integration_checks_warn_about_duplicates_and_external_addresses(database, user):
    save_org(database, user, OrgView(internal_domains=("example.com",)))
    first = save_integration(database, user, IntegrationSpec("ops@example.com", "alert"))
    with pytest.raises(NeedsConfirmation) as duplicate:
        save_integration(database, user, IntegrationSpec("OPS@example.com", "warning"))
    assert f"#{first.id} ops@example.com (alert)" in str(duplicate.value)
    with pytest.raises(NeedsConfirmation, match="outside the internal domains .*vulnerability"):
        save_integration(database, user, IntegrationSpec("someone@gmail.com"))
    save_integration(database, user, IntegrationSpec("pager@ops.example.com"))  # a subdomain
    save_integration(database, user, IntegrationSpec("someone@gmail.com"), confirmed=True)
    assert [i.address for i in list_integrations(database, user)] == [
        "ops@example.com", "pager@ops.example.com", "someone@gmail.com",
    ]  # fmt: skip
    with database.read() as session:
        stored = " ".join(
            str(v) for row in session.execute(text("SELECT * FROM integration")) for v in row
        )
    assert "example.com" not in stored and "gmail" not in stored  # encrypted at rest


def test_integration_permissions_are_enforced_in_core(database, user):
    viewer = add_user(database, user, "viewer")
    viewer = ensure_user(database, "viewer")
    first = integrate(database, user, "ops@x.example")
    assert [i.id for i in list_integrations(database, viewer)] == [first.id]
    with pytest.raises(PermissionDenied, match="edit_connections"):
        save_integration(database, viewer, IntegrationSpec("b@x.example"), confirmed=True)
    with pytest.raises(PermissionDenied, match="delete_connections"):
        remove_integration(database, viewer, first.id)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"address": "ops@x.example\r\nBcc: evil@x.example"}, "line break"),
        ({"address": "ops"}, "@domain"),
        ({"address": "ops@x.example", "level": "critical"}, "level 'critical' is not one of"),
        ({"address": "ops@x.example", "frequency": "weekly"}, "is not one of instant, hourly"),
        (
            {"address": "ops@x.example", "frequency": "daily", "digest_at": "25:00"},
            "digest_at '25:00' is not a time of day",
        ),
        ({"address": "ops@x.example", "digest_at": "08:00"}, "digest_at is for frequency"),
        ({"address": "ops@x.example", "colour": "red"}, "unknown key 'colour'"),
    ],
)
def test_a_wrong_integration_is_named(data, message):
    with pytest.raises(IntegrationError, match=message):
        parse_integration(data, "[[integration]] 1")


def test_the_loop_shield_ignores_our_own_notifications_and_replies_to_them(database, user):
    integrate(database, user, "ops@x.example")
    source(database, user)
    open_incident(database)
    [delivery] = list_deliveries(database, user)
    with database.read() as session:
        ours = session.execute(select(Delivery.message_id)).scalar()
    reply = alert("Re: [ALERT] #1 PROBLEM web01", headers={"In-Reply-To": ours})
    result = ingest_mail(database, reply, ["src@alerts.example.com"], via="ingest")
    assert result.outcomes[0].outcome == "loop"
    assert "notification mailsiren sent" in result.outcomes[0].reason
    echoed = alert("[ALERT] #1 PROBLEM web01", message_id=ours)
    assert (
        ingest_mail(database, echoed, ["src@alerts.example.com"], via="ingest").outcomes[0].outcome
        == "loop"
    )


def test_no_line_break_from_any_input_reaches_a_header(database, user):
    integrate(database, user, "ops@x.example")
    source(database, user)
    subject = "=?utf-8?q?PROBLEM=0D=0ABcc:_evil@x.example=0AX-Evil:_1?="
    open_incident(database, subject=subject)
    title = list_deliveries(database, user)[0]
    assert title.address == "ops@x.example"
    message = build_message(
        to="ops@x.example", subject="[ALERT] #1 " + header_safe("a\r\nBcc: evil@x.example\tz"),
        body="body", message_id="<n.1@mailsiren.test>", now=T0,
    )  # fmt: skip
    raw = message.as_bytes()
    headers = raw.split(b"\n\n", 1)[0]
    assert b"\nBcc:" not in headers and b"Subject: [ALERT] #1 a Bcc: evil@x.example z" in headers
    assert b"Auto-Submitted: auto-generated" in headers


@pytest.mark.parametrize(
    ("reply", "advice"),
    [
        ("550 5.1.1 <x@y>: Recipient address rejected: User unknown", "Unknown mailbox"),
        ("552 5.2.2 Mailbox full", "Mailbox full"),
        ("452 4.2.2 Over quota", "Mailbox full"),
        ("550 5.7.1 Message rejected as spam", "allowlist"),
        ("550 5.7.1 RESOLVER.RST.AuthRequired; not authorized to send to this group", "external"),
        ("554 5.7.1 <x@y>: Relay access denied", "Relay denied"),
    ],
)
def test_a_refusal_gets_the_seeds_troubleshooting_advice(reply, advice):
    assert advice in advice_for_reply("RCPT TO", reply)


def test_an_escalation_survives_a_restart_step_for_step(database, user, tmp_path):
    """A restarted serve opens the database afresh: the runs' rows say where each one was."""
    from app.core.store.db import open_database
    from app.core.store.secrets import load_or_create_keyring

    save_policy(database, user, parse_policy(
        {"name": "ops", "step": [{"targets": ["a@x.example"], "delay_minutes": 0},
                                 {"targets": ["b@x.example"], "delay_minutes": 10}]}, "p",
    ))  # fmt: skip
    source(database, user, policy="ops")
    clock = Clock()
    incident_id = open_incident(database, clock=clock)
    assert [s.step for s in take_due_steps(database, clock=clock)] == [1]
    database.dispose()  # serve stops mid-escalation
    keyring = load_or_create_keyring(tmp_path / "db" / "mailsiren.key")
    reopened = open_database(database.url, keyring)
    try:
        assert take_due_steps(reopened, clock=clock) == []  # step 1 is not taken twice
        clock.advance(minutes=10)
        assert [(s.step, s.finished) for s in take_due_steps(reopened, clock=clock)] == [(2, True)]
        escalated = [
            d.address for d in list_deliveries(reopened, user, incident_id=incident_id)
            if d.event == "incident_escalated"
        ]  # fmt: skip
        assert sorted(escalated) == ["a@x.example", "b@x.example"]
    finally:
        reopened.dispose()
