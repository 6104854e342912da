"""`schedule:NAME` as an escalation target (SPEC §18): resolved when the step fires, paged at
the on-call user's address, the timeline naming the user and the schedule (never the
address); an unknown schedule refused at save; a user on a rotation not removed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.core.incidents.escalation import (
    EscalationError,
    parse_policy,
    save_policy,
    take_due_steps,
)
from app.core.incidents.schedules import ScheduleSpec, add_override, save_schedule
from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import save_source
from app.core.store.models import Delivery, TimelineEvent
from app.core.users import UserAdminError, add_user, remove_user
from tests.clock import T0, Clock
from tests.mails import alert_mail

SOURCE = "src@alerts.example.com"
# T0 is 2026-11-21 03:00 UTC, 04:00 in Berlin: ann's shift (from the 20th at 09:00) until 09:00.
PRIMARY = ScheduleSpec("primary", "Europe/Berlin", ("ann", "bob", "cid"), "1d", "2026-11-20T09:00")


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def on_call_policy(database, user):
    add_user(database, user, "ann", email="ann@x.example")
    add_user(database, user, "bob", email="bob@x.example")
    add_user(database, user, "cid")  # no email
    add_user(database, user, "dave", email="dave@x.example")
    save_schedule(database, user, PRIMARY)
    policy = {
        "name": "ops",
        "step": [
            {"targets": ["schedule:primary"], "delay_minutes": 0},
            {"targets": ["schedule:primary"], "delay_minutes": 6 * 60},
        ],
    }
    save_policy(database, user, parse_policy(policy, "policy"))
    save_source(database, user, {"name": "src", "address": SOURCE, "escalation_policy": "ops"})


def open_incident(database, clock) -> int:
    result = ingest_mail(database, alert_mail("PROBLEM web01"), [SOURCE], via="ingest", clock=clock)
    return result.outcomes[0].incident_id


def paged(database, incident_id: int) -> list[tuple[str, str]]:
    with database.read() as session:
        rows = session.execute(
            select(Delivery.address, Delivery.why)
            .where(Delivery.incident_id == incident_id, Delivery.event == "incident_escalated")
            .order_by(Delivery.id)
        ).all()
    return [(address, why) for address, why in rows]


def escalations(database, incident_id: int) -> list[str]:
    with database.read() as session:
        return list(session.execute(
            select(TimelineEvent.detail)
            .where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "escalated")
            .order_by(TimelineEvent.id)
        ).scalars())  # fmt: skip


def test_each_step_pages_whoever_is_on_call_when_it_fires(database, user, clock, on_call_policy):
    incident_id = open_incident(database, clock)
    take_due_steps(database, clock=clock)
    clock.advance(hours=6)  # 10:00 in Berlin: bob's shift since 09:00
    take_due_steps(database, clock=clock)
    assert paged(database, incident_id) == [
        ("ann@x.example", "escalation ops step 1 via schedule primary"),
        ("bob@x.example", "escalation ops step 2 via schedule primary"),
    ]
    details = escalations(database, incident_id)
    assert details == [
        "policy ops: step 1 of 2: paged ann via schedule primary",
        "policy ops: step 2 of 2: paged bob via schedule primary",
    ]
    assert not any("@" in detail for detail in details)


def test_an_override_pages_its_user_and_one_without_email_is_named(
    database, user, clock, on_call_policy
):
    add_override(database, user, "primary", "dave", T0, T0 + timedelta(hours=2), clock=clock)
    first = open_incident(database, clock)
    take_due_steps(database, clock=clock)
    assert [address for address, _ in paged(database, first)] == ["dave@x.example"]
    clock.advance(days=1)  # the 22nd, 04:00 in Berlin: bob until 09:00
    clock.advance(days=1)  # the 23rd: cid, who has no address
    second = (
        ingest_mail(database, alert_mail("PROBLEM db01"), [SOURCE], via="ingest", clock=clock)
        .outcomes[0]
        .incident_id
    )
    take_due_steps(database, clock=clock)
    assert paged(database, second) == []
    assert escalations(database, second) == [
        "policy ops: step 1 of 2: nobody to page; cid via schedule primary has no "
        "email address (mailsiren users set)"
    ]


def test_a_policy_naming_an_unknown_schedule_is_refused_at_save(database, user):
    spec = parse_policy({"name": "ops", "step": [{"targets": ["schedule:nope"]}]}, "policy")
    with pytest.raises(EscalationError, match=r"step 1: no schedule 'nope'"):
        save_policy(database, user, spec)


def test_a_user_on_a_rotation_is_not_removed(database, user, on_call_policy):
    save_schedule(database, user, ScheduleSpec("backup", "UTC", ("bob",), "1w", "2026-11-16T09:00"))
    with pytest.raises(
        UserAdminError, match=r"bob is in the rotation of the schedules backup, primary"
    ):
        remove_user(database, user, "bob")
    remove_user(database, user, "dave")  # on no rotation (an override is not a rotation)
