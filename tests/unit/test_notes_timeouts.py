"""Notes, owners and timeouts (SPEC §14): notes and assignment are timeline events a person
with `triage` writes; an incident accepted too long goes back to pending and escalates again,
one with no mail too long resolves — decided once, whichever serve looks. Both backends."""

from __future__ import annotations

import concurrent.futures

import pytest
from sqlalchemy import select

from app.core.incidents.escalation import PolicySpec, Step, save_policy
from app.core.incidents.lifecycle import NOTE_LIMIT, IncidentError
from app.core.incidents.timeouts import time_out_incidents
from app.core.incidents.views import (
    assign_incident,
    change_state,
    note_incident,
    show_incident,
)
from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import RuleError, parse_source, save_source
from app.core.notifications.integrations import IntegrationSpec, save_integration
from app.core.store.models import Delivery, EscalationRun
from app.core.users import PermissionDenied, add_user
from tests.clock import T0, Clock
from tests.mails import SOURCE, alert_mail


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def incident(database, user, clock) -> int:
    """One pending incident of a source that times out: accepted 60 min, quiet 120 min."""
    save_policy(database, user, PolicySpec("ops", (Step(("oncall@x.example",), 5),)), new=True)
    save_source(
        database, user,
        {"name": "nagios", "address": SOURCE, "escalation_policy": "ops", "creation": "per_subject",
         "ack_timeout_minutes": 60, "auto_resolve_minutes": 120},
        clock=clock,
    )  # fmt: skip
    save_integration(database, user, IntegrationSpec("ops@x.example", "all"), confirmed=True)
    result = ingest_mail(database, alert_mail("web01 disk"), [SOURCE], via="smtp", clock=clock)
    return result.outcomes[0].incident_id


def events(database, incident_id: int) -> list[tuple[str, str | None, str]]:
    return [(e.kind, e.actor, e.detail) for e in show_incident(database, incident_id).timeline]


def deliveries(database, incident_id: int) -> list[str]:
    with database.read() as session:
        rows = session.exec(select(Delivery).where(Delivery.incident_id == incident_id))
        return [row.event for row in rows.scalars()]


def escalating(database, incident_id: int) -> bool:
    with database.read() as session:
        return session.get(EscalationRun, incident_id) is not None


def test_a_note_is_kept_as_written_with_who_and_when(database, user, clock, incident):
    text = "disk full on /var\nrotated the logs; watching it"
    note_incident(database, user, incident, f"  {text}\n", clock=clock)
    detail = show_incident(database, incident)
    assert detail.latest_note is not None
    assert (detail.latest_note.kind, detail.latest_note.actor) == ("note", "alice")
    assert detail.latest_note.detail == text  # line breaks kept; only the ends trimmed
    assert detail.to_json()["timeline"][-1] == {
        "at": detail.latest_note.at, "kind": "note", "actor": "alice", "detail": text,
        "mail_id": None,
    }  # fmt: skip


def test_a_note_too_long_or_empty_is_refused_naming_the_limit(database, user, clock, incident):
    before = events(database, incident)
    with pytest.raises(IncidentError, match="4,001 characters: at most 4,000"):
        note_incident(database, user, incident, "x" * (NOTE_LIMIT + 1), clock=clock)
    with pytest.raises(IncidentError, match="empty"):
        note_incident(database, user, incident, " \n ", clock=clock)
    with pytest.raises(IncidentError, match="no incident #999"):
        note_incident(database, user, 999, "hello", clock=clock)
    assert events(database, incident) == before
    note_incident(database, user, incident, "x" * NOTE_LIMIT, clock=clock)  # the limit itself


def test_assignment_names_the_owner_and_the_change(database, user, clock, incident):
    add_user(database, user, "bob", permissions=["triage"])
    assert assign_incident(database, user, incident, "bob", clock=clock)
    assert show_incident(database, incident).incident.assignee == "bob"
    assert not assign_incident(database, user, incident, "bob", clock=clock)  # already his
    assert assign_incident(database, user, incident, "alice", clock=clock)
    assert assign_incident(database, user, incident, None, clock=clock)
    detail = show_incident(database, incident)
    assert detail.incident.assignee is None and detail.to_json()["assignee"] is None
    assert [e[2] for e in events(database, incident) if e[0] == "assigned"] == [
        "assigned to bob by alice",
        "assigned to alice (was bob) by alice",
        "unassigned (was alice) by alice",
    ]


def test_assigning_to_an_unknown_user_names_the_user_and_the_users(database, user, clock, incident):
    with pytest.raises(IncidentError, match=r"no user 'carol' .*users are: alice"):
        assign_incident(database, user, incident, "carol", clock=clock)
    assert show_incident(database, incident).incident.assignee is None


def test_notes_and_assignment_need_triage(database, user, clock, incident):
    viewer = add_user(database, user, "victor")  # view_connections only
    with pytest.raises(PermissionDenied):
        note_incident(database, viewer, incident, "hi", clock=clock)
    with pytest.raises(PermissionDenied):
        assign_incident(database, viewer, incident, "alice", clock=clock)


def test_accepted_too_long_goes_back_to_pending_and_escalates_again_once(
    database, user, clock, incident
):
    change_state(database, user, "accept", [incident], clock=clock)
    assert not escalating(database, incident)
    clock.advance(minutes=59)
    assert time_out_incidents(database, clock=clock) == []
    clock.advance(minutes=1)
    assert time_out_incidents(database, clock=clock) == [(incident, "pending")]
    assert time_out_incidents(database, clock=clock) == []  # a second serve: nothing left
    view = show_incident(database, incident).incident
    assert (view.state, view.accepted_by) == ("pending", None)
    assert escalating(database, incident)
    assert ("timeout", "timeout", "accepted 60 minutes ago and not resolved: pending again") in (
        events(database, incident)
    )
    # incident_retriggered is not in the default notify_on: the escalation run pages again
    assert deliveries(database, incident) == ["incident_opened"]


def test_no_mail_for_too_long_resolves_and_a_mail_restarts_the_clock(
    database, user, clock, incident
):
    clock.advance(minutes=100)
    ingest_mail(database, alert_mail("web01 disk"), [SOURCE], via="smtp", clock=clock)
    clock.advance(minutes=119)
    assert time_out_incidents(database, clock=clock) == []  # 119 min since the last mail
    clock.advance(minutes=1)
    assert time_out_incidents(database, clock=clock) == [(incident, "resolved")]
    view = show_incident(database, incident).incident
    assert (view.state, view.resolved_by) == ("resolved", "timeout")
    assert not escalating(database, incident)
    assert deliveries(database, incident).count("incident_resolved") == 1
    assert time_out_incidents(database, clock=clock) == []


def test_a_reply_or_a_note_does_not_keep_an_incident_open(database, user, clock, incident):
    clock.advance(minutes=60)
    note_incident(database, user, incident, "still looking", clock=clock)
    clock.advance(minutes=60)
    assert time_out_incidents(database, clock=clock) == [(incident, "resolved")]


def test_sources_without_timeouts_are_never_timed_out(database, user, clock):
    save_source(database, user, {"name": "quiet", "address": "q@alerts.example.com"})
    result = ingest_mail(
        database, alert_mail("x"), ["q@alerts.example.com"], via="smtp", clock=clock
    )
    change_state(database, user, "accept", [result.outcomes[0].incident_id], clock=clock)
    clock.advance(days=365)
    assert time_out_incidents(database, clock=clock) == []


@pytest.mark.parametrize("key", ["ack_timeout_minutes", "auto_resolve_minutes"])
@pytest.mark.parametrize("value", [-1, 43201, "60", 1.5, True])
def test_a_wrong_timeout_is_refused_naming_the_key(key, value):
    with pytest.raises(RuleError, match=rf"src \(n\): {key}"):
        parse_source({"name": "n", "address": "n@a.example", key: value}, "src")


def test_timeouts_are_exported_as_saved():
    spec = parse_source({"name": "n", "address": "n@a.example", "ack_timeout_minutes": 30}, "src")
    assert spec.to_dict()["ack_timeout_minutes"] == 30
    assert "auto_resolve_minutes" not in spec.to_dict()


def test_two_serves_that_both_found_it_due_time_it_out_once(database, user, clock, incident):
    """Serve A's UPDATE is done but not committed when serve B, which read the same
    candidates, tries the same incident: B waits for A's row (PostgreSQL) or for the write
    lock (SQLite), then finds it no longer accepted."""
    from app.core.incidents.lifecycle import time_out_acceptance

    change_state(database, user, "accept", [incident], clock=clock)
    clock.advance(minutes=61)
    with concurrent.futures.ThreadPoolExecutor(1) as other_serve:
        with database.write() as session:
            assert time_out_acceptance(session.connection(), incident, 60, clock())

            def serve_b() -> bool:
                with database.write() as other:
                    return time_out_acceptance(other.connection(), incident, 60, clock())

            second = other_serve.submit(serve_b)
        assert second.result() is False
    kinds = [kind for kind, _actor, _detail in events(database, incident)]
    assert kinds.count("timeout") == 1
