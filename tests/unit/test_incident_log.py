"""The incident log's window, filters, counts, change token and the detail reads."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from app.core.incidents.log import (
    Anchor,
    LogFilter,
    incident_mail_window,
    incident_mails,
    incident_token,
    key_explanation,
    position_of,
    read_window,
)
from app.core.incidents.views import change_state
from app.core.store.changes import database_token
from app.core.store.db import Database, utc_now
from tests.unit.test_engine import mail, send, source


def opened(database, subjects: list[str]) -> list[int]:
    return [send(database, mail(subject))[1] for subject in subjects]


def test_window_is_newest_first_with_counts_and_a_clamped_offset(database, user):
    source(database, user, creation="per_email")
    ids = opened(database, [f"disk {n}" for n in range(30)])
    change_state(database, user, "accept", ids[:5])
    change_state(database, user, "resolve", ids[5:10])
    window = read_window(database, LogFilter(), offset=0, limit=10)
    assert [row.id for row in window.rows] == sorted(ids[:5] + ids[10:], reverse=True)[:10]
    assert window.counts == {"pending": 20, "accepted": 5, "resolved": 5}
    assert window.total == 25 and window.sources == ("src",)
    last = read_window(database, LogFilter(state="all"), offset=10_000, limit=10)
    assert last.offset == 20 and [row.id for row in last.rows] == sorted(ids, reverse=True)[20:]


def test_filters_by_state_severity_source_and_text_with_like_characters_escaped(database, user):
    source(database, user, creation="per_email", severity="warning")
    opened(database, ["100% disk on web01", "load on db_2", "[/x] markup"])
    assert read_window(database, LogFilter(text="100%"), offset=0, limit=9).total == 1
    assert read_window(database, LogFilter(text="DB_2"), offset=0, limit=9).total == 1
    assert read_window(database, LogFilter(text="db%2"), offset=0, limit=9).total == 0
    assert read_window(database, LogFilter(severity="alert"), offset=0, limit=9).total == 0
    assert (
        read_window(database, LogFilter(source="src", state="pending"), offset=0, limit=9).total
        == 3
    )
    assert read_window(database, LogFilter(source="other"), offset=0, limit=9).total == 0


def test_database_token_grows_with_every_change_and_position_follows_the_filter(database, user):
    source(database, user, creation="per_email")
    before = database_token(database)
    first, second, third = opened(database, ["a", "b", "c"])
    after_mail = database_token(database)
    change_state(database, user, "accept", [second])
    assert before < after_mail < database_token(database)
    assert position_of(database, LogFilter(), first) == 2
    assert position_of(database, LogFilter(state="pending"), second) is None


def test_changed_since_counts_what_was_updated_after_the_mark(database, user):
    source(database, user, creation="per_subject")
    opened(database, ["disk", "load"])
    mark = utc_now() + timedelta(microseconds=1)
    assert read_window(database, LogFilter(), offset=0, limit=9, seen_at=mark).changed_since == 0
    send(database, mail("disk"))  # a repeat updates the incident
    window = read_window(database, LogFilter(), offset=0, limit=9, seen_at=mark)
    assert window.changed_since == 1


def test_mails_of_an_incident_are_readable_and_the_key_rule_is_named(database, user):
    source(
        database,
        user,
        creation="by_key",
        key_rule=[{"field": "subject", "extractor": "regex", "pattern": r"host (\w+)"}],
    )
    incident = send(database, mail("down: host web01", body="CRITICAL\n"))[1]
    send(database, mail("still down: host web01"))
    mails = incident_mails(database, incident)
    assert [m.outcome for m in mails] == ["created", "appended"]
    assert mails[0].text.strip() == "CRITICAL" and "Subject: down: host web01" in mails[0].raw
    assert key_explanation(database, incident) == (
        "key 'web01' from the rule: subject regex `host (\\w+)`"
    )


def test_a_window_keeps_the_last_counts_while_the_database_has_not_changed(database, user):
    from dataclasses import replace

    source(database, user, creation="per_email")
    opened(database, ["disk on web01", "load on db02"])
    # SQLite: a pooled connection's first use may move the token once (changes.py says so)
    read_window(database, LogFilter(), offset=0, limit=9)
    first = read_window(database, LogFilter(), offset=0, limit=9)
    marked = replace(first, counts={**first.counts, "resolved": 7})  # what was counted before
    typed = read_window(database, LogFilter(text="web"), offset=0, limit=9, previous=marked)
    assert typed.counts["resolved"] == 7 and typed.total == 1  # kept; the filter counted
    opened(database, ["swap on web03"])
    moved = read_window(database, LogFilter(text="web"), offset=0, limit=9, previous=marked)
    assert moved.counts == {"pending": 3, "accepted": 0, "resolved": 0} and moved.total == 2


def test_the_detail_reads_a_window_of_mails_newest_first_around_a_mail(database, user):
    source(database, user, creation="per_subject")
    incident = send(database, mail("disk"))[1]
    for _ in range(11):
        send(database, mail("disk"))
    every = [m.id for m in incident_mails(database, incident)][::-1]  # newest first
    window = incident_mail_window(database, incident, limit=5)
    assert (window.total, window.offset) == (12, 0)
    assert [m.id for m in window.rows] == every[:5] and window.rows[0].subject == "disk"
    around = incident_mail_window(database, incident, limit=5, around=every[6], around_index=2)
    assert around.offset == 4 and [m.id for m in around.rows] == every[4:9]
    oldest = incident_mail_window(database, incident, offset=10_000, limit=5)
    assert oldest.offset == 7 and [m.id for m in oldest.rows] == every[7:]


def test_an_incident_token_moves_with_its_incident_only(database, user):
    source(database, user, creation="per_subject")
    disk, load = send(database, mail("disk"))[1], send(database, mail("load"))[1]
    before = incident_token(database, disk)
    send(database, mail("load"))  # another incident's mail
    change_state(database, user, "accept", [load])
    assert incident_token(database, disk) == before
    send(database, mail("disk"))
    after_mail = incident_token(database, disk)
    assert after_mail != before
    change_state(database, user, "accept", [disk])
    assert incident_token(database, disk) != after_mail
    assert incident_token(database, 10_000) is None


def test_each_order_places_every_incident_where_its_window_shows_it(database, user):
    from app.core.incidents.log import LOG_ORDERS
    from app.core.intake.pipeline import ingest_mail

    source(database, user, creation="per_email")
    source(database, user, name="quiet", address="quiet@alerts.example.com", severity="info")
    ids = opened(database, [f"disk {n}" for n in range(8)])
    ingest_mail(database, mail("info 1"), ["quiet@alerts.example.com"], via="ingest")
    change_state(database, user, "accept", [ids[2]])  # updated last
    for order in LOG_ORDERS:
        log_filter = LogFilter(state="all", order=order)
        rows = read_window(database, log_filter, offset=0, limit=20).rows
        assert len(rows) == 9
        for place, row in enumerate(rows):
            assert position_of(database, log_filter, row.id) == place, (order, place)
        if order == "updated":
            assert rows[0].id == ids[2]
        if order == "severity":
            assert rows[-1].severity == "info"


def test_new_since_the_seen_mark_leaves_out_what_was_looked_at_after_its_change(database, user):
    source(database, user, creation="per_email")
    before = utc_now()
    ids = opened(database, ["a", "b", "c"])
    window = read_window(database, LogFilter(), offset=0, limit=9, seen_at=before)
    assert window.changed_since == 3
    looked = {ids[0]: utc_now()}
    window = read_window(database, LogFilter(), offset=0, limit=9, seen_at=before, looked=looked)
    assert window.changed_since == 2
    change_state(database, user, "accept", [ids[0]])  # changed after it was looked at
    window = read_window(database, LogFilter(), offset=0, limit=9, seen_at=before, looked=looked)
    assert window.changed_since == 3


def test_an_anchored_window_holds_its_incident_while_a_storm_commits_above_it(database, user):
    """Where the incident stands and the rows around it are one snapshot: incidents another
    process commits between the two reads cannot push it off its row (CI's storm test once
    opened #43 for #25: the cursor had fallen back to the row, on another incident)."""
    source(database, user, creation="per_email")
    ids = opened(database, [f"disk {n}" for n in range(30)])
    anchor = ids[10]  # 20th newest
    storm = Database(database.url, database.keyring)  # another connection, as serve's
    arrived: list[int] = []

    def commit_a_storm(_connection, _cursor, statement, *_rest) -> None:
        if not arrived and "FROM incident" in statement:  # the window's first read ran
            arrived.extend(opened(storm, [f"storm {n}" for n in range(5)]))

    event.listen(database.engine, "after_cursor_execute", commit_a_storm)
    try:
        window = read_window(
            database, LogFilter(), offset=0, limit=10, anchor=Anchor(anchor, index=9)
        )
    finally:
        event.remove(database.engine, "after_cursor_execute", commit_a_storm)
        storm.dispose()
    assert len(arrived) == 5  # they did commit while the window was read
    assert window.rows[9].id == anchor and window.offset == 10
    after = read_window(database, LogFilter(), offset=0, limit=10, anchor=Anchor(anchor, index=9))
    assert after.rows[9].id == anchor and after.offset == 15  # the next read sees them
