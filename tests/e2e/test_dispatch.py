"""The dispatcher on real SMTP peers over loopback: aiosmtpd (STARTTLS, AUTH) and Postfix's
smtp-sink with its fault modes. Time is an injected clock; nothing sleeps."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select, update

from app.core.incidents.views import change_state
from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import save_source
from app.core.notifications.deliveries import delivery_attempts, list_deliveries
from app.core.notifications.dispatcher import Dispatcher
from app.core.notifications.integrations import IntegrationSpec, save_integration
from app.core.notifications.org import OrgView, save_org
from app.core.sending.personal import SmtpForm, save_preferences
from app.core.sending.shared import load_shared_config
from app.core.store.models import Delivery, Mail
from tests.clock import T0, Clock
from tests.conftest import GOOD_PASSWORD, GOOD_USER
from tests.e2e.peers import smtp_sink
from tests.e2e.test_shared_config import write_shared
from tests.mails import alert_mail


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def no_shared(tmp_path):
    return lambda: load_shared_config(tmp_path / "no-shared.conf")


def setup_routing(database, user, *addresses, severity="alert"):
    save_source(
        database, user, {"name": "src", "address": "src@alerts.example.com", "severity": severity}
    )
    for address in addresses:
        save_integration(database, user, IntegrationSpec(address, "all"), confirmed=True)


def open_incidents(database, clock, count=1):
    for number in range(count):
        raw = alert_mail(
            f"PROBLEM web{number:02d} is DOWN", "***** Nagios *****\nHost: web01\nState: DOWN",
            to="src@alerts.example.com", message_id=False,
        )  # fmt: skip
        ingest_mail(database, raw, ["src@alerts.example.com"], via="ingest", clock=clock)


def personal_plain(database, user, port):
    save_preferences(
        database, user,
        SmtpForm("127.0.0.1", str(port), tls_mode="none", from_address="siren@example.com"),
    )  # fmt: skip


def personal_with_auth(database, user, port):
    save_preferences(
        database, user,
        SmtpForm("localhost", str(port), GOOD_USER, GOOD_PASSWORD, "starttls",
                 from_address="siren@example.com"),
    )  # fmt: skip


def personal_starttls(database, user, port):
    save_preferences(
        database, user,
        SmtpForm("localhost", str(port), tls_mode="starttls", from_address="s@example.com"),
    )  # fmt: skip


def dispatch(database, clock, shared) -> int:
    return asyncio.run(Dispatcher(database, shared, clock=clock, stage_timeout=10).run_once())


def statuses(database, user):
    return [(d.address, d.status, d.attempts) for d in reversed(list_deliveries(database, user))]


def test_a_new_incident_reaches_its_address_through_the_owners_settings(
    database, user, smtp_server, trust_test_ca, clock, no_shared
):
    server = smtp_server()
    personal_with_auth(database, user, server.port)
    setup_routing(database, user, "ops@example.com")
    open_incidents(database, clock)
    assert dispatch(database, clock, no_shared) == 1
    [received] = server.handler.received
    assert received.mail_from == "siren@example.com" and received.rcpt_tos == ["ops@example.com"]
    mail = message_from_bytes(received.data, policy=policy.default)
    assert mail["Subject"] == "[ALERT] #1 PROBLEM web00 is DOWN"
    assert mail["Auto-Submitted"] == "auto-generated"
    body = mail.get_content()
    assert "Source:    src" in body and "  | Host: web01" in body
    assert "mailsiren incidents accept 1" in body
    [delivery] = list_deliveries(database, user)
    assert (delivery.status, delivery.attempts, delivery.last_reply) == (
        "sent",
        1,
        "250 2.0.0 Message accepted",
    )
    with database.read() as session:
        assert session.execute(select(Delivery.message_id)).scalar() == mail["Message-ID"]
    assert dispatch(database, clock, no_shared) == 0  # nothing is sent twice


def test_a_burst_goes_over_one_connection(
    database, user, smtp_server, trust_test_ca, clock, no_shared
):
    server = smtp_server(auth=False)
    personal_starttls(database, user, server.port)
    setup_routing(database, user, "ops@example.com")
    save_org(database, user, OrgView(storm_limit=100))
    open_incidents(database, clock, count=20)
    assert dispatch(database, clock, no_shared) == 20
    assert len(server.handler.received) == 20
    assert len(server.handler.greetings) == 2  # EHLO, and EHLO after STARTTLS: one session


def test_a_4xx_is_retried_with_backoff_and_every_attempt_is_kept(database, user, clock, no_shared):
    setup_routing(database, user, "ops@example.com")
    open_incidents(database, clock)
    with smtp_sink("-r", "RCPT") as port:
        personal_plain(database, user, port)
        dispatch(database, clock, no_shared)
        assert statuses(database, user) == [("ops@example.com", "retrying", 1)]
        clock.advance(seconds=29)
        assert dispatch(database, clock, no_shared) == 0  # not due before 30 s
        clock.advance(seconds=1)
        dispatch(database, clock, no_shared)
        assert statuses(database, user) == [("ops@example.com", "retrying", 2)]
        [delivery] = list_deliveries(database, user)
        assert delivery.next_attempt_at == clock.now + timedelta(seconds=60)  # doubled
    with smtp_sink() as port:
        personal_plain(database, user, port)
        clock.advance(seconds=60)
        dispatch(database, clock, no_shared)
    [delivery] = list_deliveries(database, user)
    assert (delivery.status, delivery.attempts) == ("sent", 3)
    attempts = delivery_attempts(database, delivery.id)
    assert [(a.outcome, a.stage) for a in attempts] == [
        ("temporary", "RCPT TO"), ("temporary", "RCPT TO"), ("sent", "DATA"),
    ]  # fmt: skip
    assert attempts[0].reply.startswith("450")


def test_a_5xx_fails_at_once_with_the_seeds_advice(database, user, clock, no_shared):
    setup_routing(database, user, "nobody@example.com")
    open_incidents(database, clock)
    unknown = "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"
    with smtp_sink("-f", "RCPT", "-B", unknown) as port:
        personal_plain(database, user, port)
        dispatch(database, clock, no_shared)
    [delivery] = list_deliveries(database, user)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    # Stored without the address the server said back (encrypted on the delivery itself).
    assert delivery.last_reply == unknown.replace("nobody@example.com", "recipient")
    assert delivery.hint.startswith("Unknown mailbox: verify the email address")
    clock.advance(hours=2)
    assert dispatch(database, clock, no_shared) == 0


def test_a_disconnect_is_retried_and_retries_stop_after_24_hours(database, user, clock, no_shared):
    setup_routing(database, user, "ops@example.com")
    open_incidents(database, clock)
    with smtp_sink("-q", "DATA") as port:
        personal_plain(database, user, port)
        dispatch(database, clock, no_shared)
        [delivery] = list_deliveries(database, user)
        assert delivery.status == "retrying" and "closed the connection" in delivery.last_reply
        tries = 1
        while list_deliveries(database, user)[0].status == "retrying":
            clock.now = list_deliveries(database, user)[0].next_attempt_at
            dispatch(database, clock, no_shared)
            tries += 1
    [delivery] = list_deliveries(database, user)
    assert delivery.status == "failed" and delivery.last_reply.startswith("gave up after 24 h")
    assert clock.now - T0 <= timedelta(hours=24)
    assert delivery.attempts == tries == len(delivery_attempts(database, delivery.id))
    assert tries > 20  # an hour apart at most once the backoff has grown


def test_no_configuration_waits_and_says_why(database, user, clock, no_shared):
    setup_routing(database, user, "ops@example.com")
    open_incidents(database, clock)
    dispatch(database, clock, no_shared)
    [delivery] = list_deliveries(database, user)
    assert delivery.status == "retrying"
    assert "no usable SMTP configuration" in delivery.last_reply
    assert "You have no email configuration" in delivery.hint


def test_the_shared_configuration_sends_with_force_from_and_refuses_outside_allowed_to(
    database, user, smtp_server, trust_test_ca, clock, tmp_path
):
    server = smtp_server()
    path = write_shared(tmp_path, server.port)
    setup_routing(database, user, "abc@example.com", "ops@elsewhere.example")
    open_incidents(database, clock)
    dispatch(database, clock, lambda: load_shared_config(path))
    [received] = server.handler.received
    assert received.mail_from == "forced@example.com" and received.rcpt_tos == ["abc@example.com"]
    assert message_from_bytes(received.data, policy=policy.default)["From"] == "forced@example.com"
    refused = next(
        d for d in list_deliveries(database, user) if d.address == "ops@elsewhere.example"
    )
    assert refused.status == "failed" and "not an allowed recipient" in refused.last_reply
    assert "Allowed-To" in refused.hint


def test_storm_control_holds_the_excess_and_sends_one_summary(
    database, user, smtp_server, trust_test_ca, clock, no_shared
):
    server = smtp_server(auth=False)
    personal_starttls(database, user, server.port)
    setup_routing(database, user, "ops@example.com")
    save_org(database, user, OrgView(storm_limit=3, storm_window_minutes=3))
    open_incidents(database, clock, count=5)
    dispatch(database, clock, no_shared)
    assert len(server.handler.received) == 3
    held = [d for d in list_deliveries(database, user) if d.held_until]
    assert len(held) == 2 and all("storm control" in d.hint for d in held)
    assert held[0].held_until == T0 + timedelta(minutes=3)
    clock.advance(minutes=2)
    assert dispatch(database, clock, no_shared) == 0
    clock.advance(minutes=1)
    assert dispatch(database, clock, no_shared) == 1
    summary = message_from_bytes(server.handler.received[-1].data, policy=policy.default)
    assert summary["Subject"] == "[mailsiren] 2 notifications held back by storm control"
    assert (
        "#4 PROBLEM web03" in summary.get_content() and "#5 PROBLEM web04" in summary.get_content()
    )
    assert [d.status for d in list_deliveries(database, user)] == ["sent"] * 5


def test_a_new_dispatcher_carries_on_mid_retry_and_sends_nothing_twice(
    database, user, smtp_server, trust_test_ca, clock, no_shared
):
    """What a restart of serve does: a new process with nothing but the database."""
    setup_routing(database, user, "a@example.com", "b@example.com")
    open_incidents(database, clock)
    with smtp_sink("-r", "RCPT") as port:
        personal_plain(database, user, port)
        dispatch(database, clock, no_shared)
    server = smtp_server(auth=False)
    personal_starttls(database, user, server.port)
    # one of the two had gone out before the "crash"
    with database.write() as session:
        first = session.execute(select(Delivery.id).order_by(Delivery.id)).scalars().first()
        session.execute(update(Delivery).where(Delivery.id == first).values(status="sent"))
    clock.advance(minutes=1)
    dispatch(database, clock, no_shared)
    dispatch(database, clock, no_shared)
    assert [r.rcpt_tos for r in server.handler.received] == [["b@example.com"]]


def test_the_resolution_of_an_incident_is_sent_too(database, user, clock, no_shared):
    setup_routing(database, user, "ops@example.com")
    open_incidents(database, clock)
    change_state(database, user, "resolve", [1], clock=clock)
    with smtp_sink() as port:
        personal_plain(database, user, port)
        assert dispatch(database, clock, no_shared) == 2
    assert [d.event for d in reversed(list_deliveries(database, user))] == [
        "incident_opened", "incident_resolved",
    ]  # fmt: skip


def test_two_dispatchers_on_one_database_send_each_notification_once(
    database, user, smtp_server, trust_test_ca, clock, no_shared, monkeypatch
):
    """Two serves' notifiers (a team on PostgreSQL): each row is claimed by one of them."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from app.core.notifications import outbox as outbox_module
    from app.core.store.db import open_database

    monkeypatch.setattr(outbox_module, "BATCH", 5)  # small claims, so that they alternate
    server = smtp_server(auth=False)
    personal_starttls(database, user, server.port)
    setup_routing(database, user, "a@example.com", "b@example.com")
    save_org(database, user, OrgView(storm_limit=1000))
    open_incidents(database, clock, count=40)
    other = open_database(database.url, database.keyring)
    start = threading.Barrier(2)

    def notifier(db, node) -> int:
        dispatcher = Dispatcher(db, no_shared, clock=clock, stage_timeout=10, node=node)
        start.wait()
        attempted = 0
        while any(d.status == "queued" for d in list_deliveries(db, user)):
            attempted += asyncio.run(dispatcher.run_once())
        return attempted

    try:
        with ThreadPoolExecutor(2) as pool:
            shares = list(pool.map(notifier, [database, other], ["host-a:/data", "host-b:/data"]))
    finally:
        other.dispose()
    assert sum(shares) == 80, shares
    ids = [
        message_from_bytes(m.data, policy=policy.default)["Message-ID"]
        for m in server.handler.received
    ]
    assert len(ids) == len(set(ids)) == 80
    assert {(d.status, d.attempts) for d in list_deliveries(database, user)} == {("sent", 1)}


def test_a_restarted_notifier_takes_back_its_own_claims_at_once(database, user, clock, no_shared):
    """A notifier killed mid-run leaves its rows claimed; the next one on that node frees them
    (another node's claim it leaves alone until the lease runs out)."""
    from app.core.notifications.outbox import LEASE

    setup_routing(database, user, "a@example.com", "b@example.com")
    open_incidents(database, clock)
    with database.write() as session:
        first, second = session.execute(select(Delivery.id).order_by(Delivery.id)).scalars()
        until = clock.now + LEASE
        session.execute(update(Delivery).where(Delivery.id == first).values(
            claimed_by="host-a:/data/dead-run", claimed_until=until))  # fmt: skip
        session.execute(update(Delivery).where(Delivery.id == second).values(
            claimed_by="host-b:/data/live-run", claimed_until=until))  # fmt: skip
    with smtp_sink() as port:
        personal_plain(database, user, port)
        restarted = Dispatcher(database, no_shared, clock=clock, node="host-a:/data")
        assert restarted.release_own_claims() == 1
        assert asyncio.run(restarted.run_once()) == 1  # not host-b's row
        clock.advance(seconds=LEASE.total_seconds() + 1)
        assert asyncio.run(restarted.run_once()) == 1  # host-b died: its lease ran out
    assert [d.status for d in list_deliveries(database, user)] == ["sent", "sent"]


@pytest.mark.parametrize("kept", ["Host: db02 (the text the pipeline kept)", None])
def test_the_notice_quotes_the_text_kept_at_ingest_and_parses_only_older_mails(
    database, user, smtp_server, trust_test_ca, clock, no_shared, kept
):
    # Parse once: the notice's first lines come from mail.body_text, not from the raw bytes;
    # a mail stored before schema 0005 (body_text NULL) is parsed as it always was.
    server = smtp_server()
    personal_with_auth(database, user, server.port)
    setup_routing(database, user, "ops@example.com")
    open_incidents(database, clock)
    with database.write() as session:
        session.execute(update(Mail).values(body_text=kept))
    assert dispatch(database, clock, no_shared) == 1
    [received] = server.handler.received
    body = message_from_bytes(received.data, policy=policy.default).get_content()
    expected = kept or "Host: web01"  # the raw mail's own text
    assert f"  | {expected}" in body
    assert kept is None or "  | Host: web01" not in body


def test_a_notification_names_the_owner_and_the_latest_note(
    database, user, smtp_server, trust_test_ca, clock, no_shared
):
    from app.core.incidents.views import assign_incident, note_incident

    server = smtp_server()
    personal_with_auth(database, user, server.port)
    setup_routing(database, user, "ops@example.com")
    open_incidents(database, clock)
    assign_incident(database, user, 1, "alice", clock=clock)
    note_incident(database, user, 1, "first look: disk", clock=clock)
    clock.advance(minutes=1)
    note_incident(database, user, 1, "rotated logs\nwatching\x1b[2J it", clock=clock)
    change_state(database, user, "resolve", [1], clock=clock)
    assert dispatch(database, clock, no_shared) == 2
    resolved = message_from_bytes(server.handler.received[-1].data, policy=policy.default)
    body = resolved.get_content().replace("\r\n", "\n")
    assert "Event:     resolved: resolved by alice\n" in body  # was "resolveed by alice"
    assert "Owner:     alice" in body
    assert "The latest note, by alice at" in body
    assert "  | rotated logs\n  | watching [2J it\n" in body  # control characters made spaces
    assert "first look" not in body


def test_with_a_reply_address_each_mail_says_where_to_answer_and_threads_on_the_first(
    database, user, smtp_server, trust_test_ca, clock, no_shared
):
    from app.core.notifications.replies import reply_to_address, reply_token

    server = smtp_server()
    personal_with_auth(database, user, server.port)
    save_org(database, user, OrgView(reply_address="mailsiren@alerts.example.com"))
    setup_routing(database, user, "ops@example.com")
    open_incidents(database, clock)
    assert dispatch(database, clock, no_shared) == 1
    change_state(database, user, "resolve", [1], clock=clock)
    assert dispatch(database, clock, no_shared) == 1
    opened, resolved = (
        message_from_bytes(m.data, policy=policy.default) for m in server.handler.received
    )
    with database.read() as session:
        events = session.execute(select(Delivery.event_id).order_by(Delivery.id)).scalars().all()
    for mail, event_id in zip((opened, resolved), events, strict=True):
        token = reply_token(database.keyring, 1, event_id, "ops@example.com")
        assert mail["Reply-To"] == reply_to_address("mailsiren@alerts.example.com", token)
    assert "reply to this mail with one word on the first line" in opened.get_content()
    assert opened["In-Reply-To"] is None
    assert resolved["In-Reply-To"] == opened["Message-ID"] == resolved["References"]


def test_a_digest_integration_gets_one_mail_per_period_and_nothing_when_empty(
    database, user, clock, no_shared
):
    """Events of an hourly integration wait for the hour's end, then go as one digest (no
    storm control), listing each event and the incident's state then; a new dispatcher
    after a restart sends it once; an hour without events sends nothing."""
    clock.now = T0.replace(minute=10)
    save_source(database, user, {"name": "src", "address": "src@alerts.example.com"})
    save_integration(
        database, user, IntegrationSpec("team@example.com", "all", frequency="hourly"),
        confirmed=True,
    )  # fmt: skip
    save_integration(database, user, IntegrationSpec("ops@example.com", "all"), confirmed=True)
    open_incidents(database, clock, count=12)  # more than the storm limit of 10
    change_state(database, user, "resolve", [1], clock=clock)
    with smtp_sink() as port:
        personal_plain(database, user, port)
        assert dispatch(database, clock, no_shared) >= 1  # ops@ gets its instant mails
        clock.advance(minutes=5)
        assert dispatch(database, clock, no_shared) == 1  # and ops@'s storm summary
        sent_to_team = [d for d in list_deliveries(database, user)
                        if d.address == "team@example.com" and d.status == "sent"]  # fmt: skip
        assert sent_to_team == []  # the hour is not over
        clock.now = T0.replace(minute=0) + timedelta(hours=1)
        assert dispatch(database, clock, no_shared) == 1  # one digest for the 13 events
        assert dispatch(database, clock, no_shared) == 0  # once: a restarted one finds none
        clock.advance(hours=1)
        assert dispatch(database, clock, no_shared) == 0  # an empty hour: no mail
    team = [d for d in list_deliveries(database, user) if d.address == "team@example.com"]
    assert len(team) == 13 and {d.status for d in team} == {"sent"}
    with database.read() as session:
        ids = {row for row in session.execute(
            select(Delivery.message_id).where(Delivery.digest == "hourly")
        ).scalars()}  # fmt: skip
    assert len(ids) == 1  # the 13 rows went in one mail
