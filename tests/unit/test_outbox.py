"""The outbox's retry and lease logic, without SMTP: real databases, an injected clock."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select, update

from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import save_source
from app.core.notifications.deliveries import delivery_attempts, list_deliveries
from app.core.notifications.integrations import IntegrationSpec, save_integration
from app.core.notifications.outbox import (
    FIRST_RETRY,
    LEASE,
    LONGEST_WAIT,
    PERMANENT,
    RETRY_FOR,
    SENT,
    TEMPORARY,
    AttemptResult,
    Outbox,
    Outgoing,
    backoff,
    without_addresses,
)
from app.core.store.db import as_utc, utc_now
from app.core.store.models import Delivery
from tests.clock import T0, Clock

ALERT = (
    b"From: nagios@monitor.example.com\r\nTo: src@alerts.example.com\r\n"
    b"Subject: PROBLEM web01 is DOWN\r\n\r\nHost: web01\r\n"
)
REFUSED = AttemptResult(TEMPORARY, "RCPT TO", "450 4.2.0 try later", "try later, says the server")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queued(database, user) -> list[int]:
    """Two queued deliveries (one incident, two addresses), due at T0."""
    save_source(database, user, {"name": "src", "address": "src@alerts.example.com"})
    for address in ("a@example.com", "b@example.com"):
        save_integration(database, user, IntegrationSpec(address, "all"), confirmed=True)
    ingest_mail(database, ALERT, ["src@alerts.example.com"], via="ingest", clock=lambda: T0)
    with database.read() as session:
        return list(session.execute(select(Delivery.id).order_by(Delivery.id)).scalars())


def outgoing(database, *ids: int) -> Outgoing:
    """The mail for these rows, as the dispatcher hands it to the outbox."""
    with database.read() as session:
        rows = session.execute(select(Delivery).where(Delivery.id.in_(ids))).scalars().all()
        message = EmailMessage()
        message["Message-ID"] = "<n.1@mailsiren.test>"
        return Outgoing(
            tuple(ids), rows[0].address, rows[0].owner_id, message,
            as_utc(rows[0].created_at), max(row.attempts for row in rows),
        )  # fmt: skip


def row(database, delivery_id: int) -> Delivery:
    with database.read() as session:
        found = session.get(Delivery, delivery_id)
        session.expunge(found)
        return found


def test_backoff_doubles_from_the_first_retry_and_stops_at_the_longest_wait():
    waits = [backoff(attempts).total_seconds() for attempts in range(1, 10)]
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert backoff(1) == FIRST_RETRY and backoff(31) == LONGEST_WAIT
    assert backoff(10_000) == LONGEST_WAIT  # no OverflowError, however many attempts


def test_a_temporary_failure_is_retrying_and_due_again_after_the_backoff(
    database, queued, clock, user
):
    outbox = Outbox(database, node="host-a:/data", clock=clock)
    assert outbox.claim_due(clock.now)
    outbox.record([(outgoing(database, queued[0]), REFUSED)])
    first = row(database, queued[0])
    assert (first.status, first.attempts, first.claimed_by) == ("retrying", 1, None)
    assert as_utc(first.next_attempt_at) == T0 + FIRST_RETRY
    assert (first.last_reply, first.hint) == ("450 4.2.0 try later", "try later, says the server")
    [attempt] = delivery_attempts(database, queued[0])
    assert (attempt.at, attempt.outcome, attempt.stage) == (T0, TEMPORARY, "RCPT TO")
    outbox.release_claim()

    clock.advance(seconds=29)
    assert outbox.claim_due(clock.now)  # the other row, never tried, is still due
    assert claimed_ids(database, outbox) == [queued[1]]
    outbox.release_claim()
    clock.advance(seconds=1)
    assert outbox.claim_due(clock.now)
    assert claimed_ids(database, outbox) == queued  # its backoff is over: both are due
    outbox.record([(outgoing(database, queued[0]), REFUSED)])
    assert as_utc(row(database, queued[0]).next_attempt_at) == clock.now + 2 * FIRST_RETRY


def test_a_permanent_failure_fails_at_once_and_is_never_due_again(database, queued, clock):
    outbox = Outbox(database, node="host-a:/data", clock=clock)
    outbox.claim_due(clock.now)
    unknown = AttemptResult(PERMANENT, "RCPT TO", "550 5.1.1 User unknown", "check the address")
    outbox.record([(outgoing(database, queued[0]), unknown)])
    outbox.release_claim()
    failed = row(database, queued[0])
    assert (failed.status, failed.attempts, failed.hint) == ("failed", 1, "check the address")
    clock.advance(hours=30)
    assert outbox.claim_due(clock.now)
    assert claimed_ids(database, outbox) == [queued[1]]


def test_a_sent_mail_keeps_its_message_id_and_loses_any_hint(database, queued, clock):
    outbox = Outbox(database, node="host-a:/data", clock=clock)
    outbox.claim_due(clock.now)
    outbox.record([(outgoing(database, queued[0]), REFUSED)])
    clock.advance(minutes=1)
    outbox.record([(outgoing(database, queued[0]), AttemptResult(SENT, "DATA", "250 2.0.0 Ok"))])
    sent = row(database, queued[0])
    assert (sent.status, sent.attempts, sent.hint) == ("sent", 2, "")
    assert (as_utc(sent.sent_at), sent.message_id) == (clock.now, "<n.1@mailsiren.test>")
    assert [a.outcome for a in delivery_attempts(database, queued[0])] == [TEMPORARY, SENT]


def test_retries_stop_once_the_next_try_would_fall_after_retry_for(database, queued, clock):
    outbox = Outbox(database, node="host-a:/data", clock=clock)
    with database.write() as session:  # many tries already: the backoff is at its longest
        session.execute(update(Delivery).values(attempts=30, status="retrying"))
    clock.now = T0 + RETRY_FOR - LONGEST_WAIT  # the next try would be exactly at the limit
    outbox.record([(outgoing(database, queued[0]), REFUSED)])
    assert row(database, queued[0]).status == "retrying"
    clock.now += timedelta(seconds=1)  # now it would be one second too late
    outbox.record([(outgoing(database, queued[1]), REFUSED)])
    gave_up = row(database, queued[1])
    assert gave_up.status == "failed" and gave_up.attempts == 31
    assert gave_up.last_reply == "gave up after 24 h of retries; last reply: 450 4.2.0 try later"


def test_a_summary_that_fails_retries_as_a_summary(database, queued, clock):
    outbox = Outbox(database, node="host-a:/data", clock=clock)
    outbox.record([(outgoing(database, *queued), REFUSED)])
    rows = [row(database, delivery_id) for delivery_id in queued]
    assert {(r.status, r.attempts) for r in rows} == {("retrying", 1)}
    assert {as_utc(r.held_until) for r in rows} == {T0 + FIRST_RETRY}
    assert len(delivery_attempts(database, queued[0])) == len(
        delivery_attempts(database, queued[1])
    )


def test_a_claim_is_not_taken_by_another_node_until_its_lease_runs_out(database, queued, clock):
    first = Outbox(database, node="host-a:/data", clock=clock)
    second = Outbox(database, node="host-b:/data", clock=clock)
    assert first.claim_due(clock.now)
    assert claimed_ids(database, first) == queued
    assert not second.claim_due(clock.now)
    clock.advance(seconds=LEASE.total_seconds())
    assert not second.claim_due(clock.now)  # the lease holds to its last moment
    clock.advance(seconds=1)
    assert second.claim_due(clock.now)  # host-a died: its lease ran out
    assert claimed_ids(database, second) == queued
    assert second.claim is not None and second.claim.startswith("host-b:/data/")


def test_a_long_run_renews_its_lease_once_half_of_it_has_gone(database, queued, clock):
    first = Outbox(database, node="host-a:/data", clock=clock)
    second = Outbox(database, node="host-b:/data", clock=clock)
    first.claim_due(clock.now)
    clock.now = T0 + LEASE / 2 - timedelta(seconds=1)
    first.keep_claim()
    assert as_utc(row(database, queued[0]).claimed_until) == T0 + LEASE  # not yet
    clock.now = T0 + LEASE / 2
    first.keep_claim()
    assert as_utc(row(database, queued[0]).claimed_until) == clock.now + LEASE
    clock.now = T0 + LEASE + timedelta(seconds=1)
    assert not second.claim_due(clock.now)


def test_release_own_claims_frees_this_nodes_rows_and_no_other(database, queued, clock):
    with database.write() as session:
        for delivery_id, claim in zip(
            queued, ["host-a:/data/dead-run", "host-a:/data2/live"], strict=True
        ):
            session.execute(
                update(Delivery).where(Delivery.id == delivery_id).values(
                    claimed_by=claim, claimed_until=T0 + LEASE)
            )  # fmt: skip
    assert Outbox(database, node="host-%", clock=clock).release_own_claims() == 0  # no LIKE
    assert Outbox(database, node="host-a:/data", clock=clock).release_own_claims() == 1
    assert row(database, queued[0]).claimed_by is None
    assert row(database, queued[1]).claimed_by == "host-a:/data2/live"
    restarted = Outbox(database, node="host-a:/data", clock=clock)
    assert restarted.claim_due(clock.now)
    assert claimed_ids(database, restarted) == [queued[0]]


def test_release_claim_frees_what_the_run_did_not_record(database, queued, clock):
    first = Outbox(database, node="host-a:/data", clock=clock)
    second = Outbox(database, node="host-b:/data", clock=clock)
    first.claim_due(clock.now)
    first.record([(outgoing(database, queued[0]), REFUSED)])
    first.release_claim()
    assert first.claim is None and row(database, queued[1]).claimed_by is None
    assert second.claim_due(clock.now)  # at once, not after the lease
    assert claimed_ids(database, second) == [queued[1]]


def test_next_wakeup_is_the_earliest_wait_no_dispatcher_holds(database, queued, clock, user):
    outbox = Outbox(database, node="host-a:/data", clock=clock)
    assert outbox.next_wakeup() == T0
    outbox.claim_due(clock.now)
    assert outbox.next_wakeup() is None  # both rows are this run's
    outbox.record([(outgoing(database, queued[0]), REFUSED)])
    assert outbox.next_wakeup() == T0 + FIRST_RETRY
    outbox.release_claim()
    assert outbox.next_wakeup() == T0  # the other row is due now
    with database.write() as session:
        session.execute(
            update(Delivery).where(Delivery.id == queued[1]).values(held_until=T0 + LEASE)
        )
    assert outbox.next_wakeup() == T0 + FIRST_RETRY
    assert [d.status for d in list_deliveries(database, user)] == ["queued", "retrying"]


def test_a_held_row_is_claimed_when_its_window_closes_and_comes_back_as_released(
    database, queued, clock
):
    with database.write() as session:
        session.execute(
            update(Delivery).where(Delivery.id == queued[1]).values(held_until=T0 + LEASE)
        )
    outbox = Outbox(database, node="host-a:/data", clock=clock)
    assert outbox.claim_due(clock.now)
    due, released = claimed(database, outbox)
    assert ([r.id for r in due], released) == ([queued[0]], [])
    outbox.record([(outgoing(database, queued[0]), AttemptResult(SENT, "DATA", "250 Ok"))])
    outbox.release_claim()
    clock.now = T0 + LEASE - timedelta(seconds=1)
    assert not outbox.claim_due(clock.now)
    clock.now = T0 + LEASE
    assert outbox.claim_due(clock.now)
    due, released = claimed(database, outbox)
    assert (due, [r.id for r in released]) == ([], [queued[1]])


def claimed(database, outbox: Outbox) -> tuple[list, list]:
    with database.read() as session:
        due, released = outbox.claimed_rows(session.connection())
    return list(due), list(released)


def claimed_ids(database, outbox: Outbox) -> list[int]:
    due, released = claimed(database, outbox)
    return sorted(r.id for r in [*due, *released])


def test_a_reply_that_repeats_the_mails_addresses_is_kept_without_them():
    message = EmailMessage()
    message["From"] = "mailsiren <Siren@Example.com>"
    mail = Outgoing((1,), "bob@example.com", None, message, utc_now(), 0)
    refused = AttemptResult(
        PERMANENT, "mail_from", "553 <siren@example.com> not owned by user; <BOB@example.com>"
    )
    assert without_addresses(mail, refused).reply == "553 <sender> not owned by user; <recipient>"
    plain = AttemptResult(SENT, "data", "250 2.0.0 Ok: queued as 4F1")
    assert without_addresses(mail, plain) is plain
