"""Incident changes as they happen (`incidents tail`, `incidents wait`) and the incidents a
`--source/--key` selector names (SPEC §16), on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.incidents.feed import IncidentFeed, wait_for_state
from app.core.incidents.lifecycle import IncidentError
from app.core.incidents.views import (
    change_selected,
    change_state,
    note_incident,
    selected_incidents,
)
from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import save_source
from app.core.store.db import open_database
from tests.clock import T0, Clock
from tests.mails import SOURCE, alert_mail

OTHER = "zabbix@alerts.example.com"


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def sources(database, user, clock) -> None:
    for name, address in (("nagios", SOURCE), ("zabbix", OTHER)):
        save_source(
            database, user, {"name": name, "address": address, "creation": "by_key",
                             "key_rule": [{"field": "subject", "extractor": "regex",
                                            "pattern": r"^(\S+) is"}]},
            clock=clock,
        )  # fmt: skip


def opened(database, clock, key: str, address: str = SOURCE) -> int:
    result = ingest_mail(database, alert_mail(f"{key} is DOWN"), [address], via="smtp", clock=clock)
    return result.outcomes[0].incident_id


def test_a_feed_gives_each_change_committed_after_it_was_made_once_in_order(
    database, user, sources, clock
):
    before = opened(database, clock, "web01")
    feed = IncidentFeed(database)
    assert feed.new_changes() == []  # what was there before is not a change
    web02 = opened(database, clock, "web02")
    change_state(database, user, "accept", [before], clock=clock)
    note_incident(database, user, web02, "looking", clock=clock)
    changes = feed.new_changes()
    assert [(c.incident.id, c.change) for c in changes] == [
        (web02, "created"), (before, "accepted"), (web02, "note"),
    ]  # fmt: skip
    assert changes[1].incident.state == "accepted" and changes[1].incident.source == "nagios"
    assert changes[0].to_json()["change"] == "created" and changes[0].to_json()["id"] == web02
    assert feed.new_changes() == []  # each once


def test_a_feed_keeps_to_its_state_and_source(database, user, sources, clock):
    feed = IncidentFeed(database, state="resolved", source="nagios")
    nagios = opened(database, clock, "web01")
    zabbix = opened(database, clock, "db01", OTHER)
    change_state(database, user, "resolve", [nagios, zabbix], clock=clock)
    assert [(c.incident.id, c.change) for c in feed.new_changes()] == [
        (nagios, "created"), (nagios, "resolved"),
    ]  # the incident is resolved now: its opening is listed with its state now  # fmt: skip
    with pytest.raises(IncidentError, match="state 'closed' is not one of"):
        IncidentFeed(database, state="closed")


def test_an_event_committed_late_below_a_newer_one_is_still_given(database, user, sources, clock):
    """A slower transaction commits an id below one already given: it is not lost (on
    PostgreSQL ids are handed out at insert; on SQLite writers queue, and the same holds)."""
    first, second = opened(database, clock, "web01"), opened(database, clock, "web02")
    seen = [0.0]
    feed = IncidentFeed(database, clock=lambda: seen[0])
    late = (
        open_database(database.url, database.keyring)
        if database.url.startswith("postgresql")
        else None
    )
    if late is None:  # SQLite: one writer at a time, so the late one cannot overtake
        note_incident(database, user, first, "early", clock=clock)
        note_incident(database, user, second, "later", clock=clock)
        assert [c.detail for c in feed.new_changes()] == ["early", "later"]
        return
    try:
        with late.write() as slow:
            from app.core.incidents.lifecycle import add_note

            add_note(slow.connection(), "alice", first, "slow", clock())  # lower id, not committed
            note_incident(database, user, second, "fast", clock=clock)
            assert [c.detail for c in feed.new_changes()] == ["fast"]
        seen[0] = 5.0  # within LATE_COMMIT: the ids above the floor are looked at again
        assert [c.detail for c in feed.new_changes()] == ["slow"]
        seen[0] = 100.0  # past it: the floor rises, nothing is given twice
        assert feed.new_changes() == [] and feed.new_changes() == []
        assert feed.given == set()  # below the floor now: nothing left to remember
    finally:
        late.dispose()


def test_wait_returns_at_the_state_or_at_its_timeout(database, user, sources, clock):
    incident = opened(database, clock, "web01")
    assert wait_for_state(database, incident, "open") == (True, "pending")
    ticks = iter([0.0, 0.0, 31.0])  # the deadline passes at the third look
    assert wait_for_state(
        database, incident, "resolved", timeout=timedelta(seconds=30), clock=lambda: next(ticks)
    ) == (False, "pending")  # fmt: skip
    change_state(database, user, "resolve", [incident], clock=clock)
    assert wait_for_state(database, incident, "resolved", timeout=timedelta(0)) == (
        True, "resolved",
    )  # fmt: skip
    with pytest.raises(IncidentError, match="no incident #999"):
        wait_for_state(database, 999, "resolved")


def test_a_selector_names_the_sources_incidents_by_key_and_acts_on_those_still_changeable(
    database, user, sources, clock
):
    web01, web02, db01 = (opened(database, clock, key) for key in ("web01", "web02", "db01"))
    opened(database, clock, "web03", OTHER)  # another source's: never chosen
    chosen = selected_incidents(database, "accept", "nagios", "web*")
    assert [view.id for view in chosen] == [web01, web02]
    assert [v.id for v in selected_incidents(database, "accept", "nagios")] == [web01, web02, db01]
    change_state(database, user, "accept", [web02], clock=clock)  # someone else, meanwhile
    assert change_selected(database, user, "accept", [web01, web02], clock=clock) == [web01]
    assert [v.id for v in selected_incidents(database, "accept", "nagios", "web*")] == []
    assert [v.id for v in selected_incidents(database, "resolve", "nagios", "web0[12]")] == [
        web01, web02,
    ]  # fmt: skip
    with pytest.raises(IncidentError, match="no source named 'nagio'; the sources are: nagios"):
        selected_incidents(database, "accept", "nagio")
