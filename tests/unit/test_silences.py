"""Silences (SPEC §10): mails under one are processed but page nobody; its end pages what it
held and is still open, once; bad input is refused with the reason. Both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.core.incidents.escalation import PolicySpec, Step, save_policy
from app.core.incidents.silences import (
    SilenceError,
    add_silence,
    end_silence,
    list_silences,
    parse_duration,
    parse_moment,
    read_window,
    release_ended_silences,
    window_from_text,
)
from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import save_source
from app.core.notifications.integrations import IntegrationSpec, save_integration
from app.core.store.models import Delivery, EscalationRun, MailOutcome, TimelineEvent
from app.core.users import PermissionDenied, add_user
from tests.clock import T0, Clock, time_zone
from tests.mails import alert_mail

SOURCE = "nagios@alerts.example.com"


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def paging(database, user, clock):
    """A source with an escalation policy, and an integration that takes every severity."""
    save_policy(database, user, PolicySpec("ops", (Step(("oncall@x.example",), 5),)), new=True)
    save_source(
        database, user, {"name": "nagios", "address": SOURCE, "escalation_policy": "ops"},
        clock=clock,
    )  # fmt: skip
    save_integration(database, user, IntegrationSpec("ops@x.example", "all"), confirmed=True)


def mail(database, clock, subject: str):
    return ingest_mail(database, alert_mail(subject), [SOURCE], via="smtp", clock=clock)


def pages(database, incident_id: int) -> list[str]:
    with database.read() as session:
        return [row.event for row in session.exec(
            select(Delivery).where(Delivery.incident_id == incident_id).order_by(Delivery.id)
        ).scalars()]  # fmt: skip


def escalating(database, incident_id: int) -> bool:
    with database.read() as session:
        return session.get(EscalationRun, incident_id) is not None


def timeline(database, incident_id: int) -> list[str]:
    with database.read() as session:
        rows = session.exec(
            select(TimelineEvent.detail).where(TimelineEvent.incident_id == incident_id)
        )
        return list(rows.scalars())


def silence(database, user, clock, minutes: int = 60, **keywords):
    keywords.setdefault("source", "nagios")
    keywords.setdefault("reason", "database upgrade")
    return add_silence(
        database, user, starts_at=clock(), ends_at=clock() + timedelta(minutes=minutes),
        clock=clock, **keywords,
    )  # fmt: skip


def test_a_silenced_mail_opens_its_incident_and_pages_nobody(database, user, clock, paging):
    held = silence(database, user, clock)
    stored = mail(database, clock, "PROBLEM web01 disk")
    [outcome] = stored.outcomes
    assert outcome.outcome == "created"
    assert pages(database, outcome.incident_id) == [] and not escalating(database, 1)
    assert f"silenced by #{held.id} (database upgrade)" in timeline(database, 1)
    with database.read() as session:
        assert session.exec(select(MailOutcome.silenced_by)).scalars().all() == [held.id]
    assert list_silences(database, clock=clock)[0].held == 1


def test_its_end_pages_what_is_still_open_and_never_what_was_resolved(
    database, user, clock, paging
):
    held = silence(database, user, clock)
    mail(database, clock, "PROBLEM web01 disk")  # #1, open at the end
    mail(database, clock, "PROBLEM web02 load")  # #2, resolved during the silence
    from app.core.incidents.views import change_state

    change_state(database, user, "resolve", [2], clock=clock)
    assert pages(database, 1) == [] and pages(database, 2) == []
    clock.advance(minutes=10)
    end_silence(database, user, held.id, clock=clock)
    assert pages(database, 1) == ["incident_opened"] and escalating(database, 1)
    assert pages(database, 2) == []
    assert f"silence #{held.id} ended: paged now" in timeline(database, 1)
    assert release_ended_silences(database, clock=clock) == []  # released once, not again


def test_at_its_time_it_ends_by_itself_once_whichever_serve_looks(database, user, clock, paging):
    held = silence(database, user, clock, minutes=30)
    mail(database, clock, "PROBLEM web01 disk")
    clock.advance(minutes=29)
    assert release_ended_silences(database, clock=clock) == []
    clock.advance(minutes=1)
    assert release_ended_silences(database, clock=clock) == [held.id]  # one serve
    assert release_ended_silences(database, clock=clock) == []  # the other: nothing left
    assert pages(database, 1) == ["incident_opened"]


def test_a_mail_after_its_end_pages_as_usual(database, user, clock, paging):
    silence(database, user, clock, minutes=30)
    clock.advance(minutes=31)
    mail(database, clock, "PROBLEM web01 disk")
    assert pages(database, 1) == ["incident_opened"]


def test_match_silences_only_the_subjects_it_finds_whatever_their_case(
    database, user, clock, paging
):
    silence(database, user, clock, match=r"web0[12]")
    mail(database, clock, "PROBLEM WEB01 disk")
    mail(database, clock, "PROBLEM db01 disk")
    assert pages(database, 1) == [] and pages(database, 2) == ["incident_opened"]


def test_an_all_sources_silence_covers_every_source(database, user, clock, paging):
    silence(database, user, clock, source=None)
    mail(database, clock, "PROBLEM web01 disk")
    assert pages(database, 1) == []


def test_appends_and_recoveries_under_a_silence_page_nobody(database, user, clock, paging):
    mail(database, clock, "PROBLEM web01 disk")  # paged before the silence
    assert pages(database, 1) == ["incident_opened"]
    silence(database, user, clock)
    mail(database, clock, "PROBLEM web01 disk")  # appended (per_email would open: check)
    assert pages(database, 1) == ["incident_opened"]


def test_a_second_silence_still_covering_holds_it_until_its_own_end(database, user, clock, paging):
    short = silence(database, user, clock, minutes=10)
    mail(database, clock, "PROBLEM web01 disk")
    long = silence(database, user, clock, minutes=60, source=None, reason="whole DC move")
    clock.advance(minutes=10)
    assert release_ended_silences(database, clock=clock) == [short.id]
    assert pages(database, 1) == []
    assert f"silence #{short.id} ended; still silenced by #{long.id} (whole DC move)" in (
        timeline(database, 1)
    )
    clock.advance(minutes=50)
    assert release_ended_silences(database, clock=clock) == [long.id]
    assert pages(database, 1) == ["incident_opened"]


@pytest.mark.parametrize(
    ("keywords", "said"),
    [
        ({"source": "nope"}, "No alert source is named 'nope'"),
        ({"reason": "  "}, "needs a reason"),
        ({"match": "web(("}, "--match 'web(('"),
        ({"minutes": -5}, "in the past"),
        ({"minutes": 60 * 24 * 91}, "at most 90 days"),
    ],
)
def test_bad_silences_are_refused_with_the_reason(database, user, clock, paging, keywords, said):
    with pytest.raises(SilenceError, match=said.replace("(", r"\(")):
        silence(database, user, clock, **keywords)
    assert list_silences(database, clock=clock, include_ended=True) == []


def test_silences_need_triage(database, user, clock, paging):
    bob = add_user(database, user, "bob")
    with pytest.raises(PermissionDenied, match="triage"):
        silence(database, bob, clock)
    held = silence(database, user, clock)
    with pytest.raises(PermissionDenied, match="triage"):
        end_silence(database, bob, held.id, clock=clock)


def test_ending_an_ended_or_unknown_silence_says_so(database, user, clock, paging):
    held = silence(database, user, clock, minutes=5)
    clock.advance(minutes=6)
    with pytest.raises(SilenceError, match="has ended already"):
        end_silence(database, user, held.id, clock=clock)
    with pytest.raises(SilenceError, match="No silence #99"):
        end_silence(database, user, 99, clock=clock)


def test_durations_and_times_as_an_operator_types_them():
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("2h") == timedelta(hours=2)
    assert parse_duration("1d") == timedelta(days=1)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    for bad in ("", "forever", "5", "-2h"):
        with pytest.raises(SilenceError, match="90m, 2h"):
            parse_duration(bad)
    with pytest.raises(SilenceError, match="lasts no time"):
        parse_duration("0m")
    with time_zone("Europe/Paris"):
        night = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 03:00 in Paris
        assert parse_moment("08:00", night) == datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
        assert parse_moment("02:00", night) == datetime(2026, 12, 3, 1, 0, tzinfo=UTC)  # next
        assert parse_moment("2026-12-02T18:00", night) == datetime(2026, 12, 2, 17, tzinfo=UTC)
        assert parse_moment("2026-12-02T18:00+00:00", night) == datetime(
            2026, 12, 2, 18, tzinfo=UTC
        )
        with pytest.raises(SilenceError, match="18:00"):
            parse_moment("tomorrow", night)
    with pytest.raises(SilenceError, match="needs an end"):
        read_window(T0)
    with pytest.raises(SilenceError, match="needs an end"):
        read_window(T0, duration="1h", until="18:00")
    assert read_window(T0, duration="2h") == (T0, T0 + timedelta(hours=2))


def test_the_screens_one_field_takes_a_duration_or_an_end():
    with time_zone("UTC"):
        assert window_from_text(T0, "90m") == (T0, T0 + timedelta(minutes=90))
        assert window_from_text(T0, "until 18:00")[1] == T0.replace(hour=18)
        assert window_from_text(T0, "04:30")[1] == T0.replace(hour=4, minute=30)
        with pytest.raises(SilenceError, match="90m, 2h"):
            window_from_text(T0, "soon")
