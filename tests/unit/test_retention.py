"""Retention (SPEC §17): old mails whose incidents are all resolved lose their raw bytes and
text, mails of open incidents keep them, a second prune frees nothing, a dry run changes
nothing, and serve's daily prune runs once a day. Both backends, with a moved clock."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app.core.incidents.lifecycle import IncidentError
from app.core.incidents.log import incident_mails, stored_mail
from app.core.incidents.views import change_state, iso_utc, show_incident
from app.core.intake.explain import explain_mail
from app.core.intake.pipeline import ingest_mail
from app.core.intake.reprocess import reprocess_mails
from app.core.intake.sources import save_source
from app.core.notifications.org import OrgView, save_org
from app.core.store.models import Delivery, Mail
from app.core.store.retention import prune_if_due, prune_mails
from tests.clock import T0, Clock
from tests.mails import SOURCE, alert_mail

LONG_TEXT = "CRITICAL: disk full\n" + "x" * 5000


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def mails(database, user, clock) -> dict[str, int]:
    """Four mails received 40 days ago: one of an incident resolved since, one of an incident
    still open, one filtered (in no incident), and a recent one of a resolved incident."""
    save_source(
        database, user,
        {"name": "nagios", "address": SOURCE, "creation": "per_subject",
         "filter": [{"field": "subject", "op": "not_contains", "value": "ignore me"}]},
        clock=clock,
    )  # fmt: skip
    ids = {}
    for name, subject in (("resolved", "web01 disk"), ("open", "db01 load"),
                          ("filtered", "ignore me: test")):  # fmt: skip
        result = ingest_mail(database, alert_mail(subject, LONG_TEXT), [SOURCE], via="smtp",
                             clock=clock)  # fmt: skip
        ids[name] = result.mail_id
        ids[f"{name}_incident"] = result.outcomes[0].incident_id
    change_state(database, user, "resolve", [ids["resolved_incident"]], clock=clock)
    clock.advance(days=39)
    recent = ingest_mail(database, alert_mail("web02 disk", LONG_TEXT), [SOURCE], via="smtp",
                         clock=clock)  # fmt: skip
    ids["recent"] = recent.mail_id
    change_state(database, user, "resolve", [recent.outcomes[0].incident_id], clock=clock)
    clock.advance(days=1)
    return ids


def pruned(database) -> dict[int, tuple[int, str | None, bool]]:
    with database.read() as session:
        rows = session.exec(select(Mail.id, Mail.raw, Mail.body_text, Mail.pruned_at)).all()
    return {row[0]: (len(row[1]), row[2], row[3] is not None) for row in rows}


def test_old_mails_of_resolved_incidents_are_pruned_and_open_ones_kept(database, clock, mails):
    before = pruned(database)
    timeline = show_incident(database, mails["resolved_incident"]).to_json()["timeline"]
    report = prune_mails(database, timedelta(days=30), clock=clock)
    assert report.mails == 2  # the resolved incident's mail and the filtered one
    resolved_size = before[mails["resolved"]][0] + len(before[mails["resolved"]][1].encode())
    filtered_size = before[mails["filtered"]][0] + len(before[mails["filtered"]][1].encode())
    assert report.bytes == resolved_size + filtered_size > 10_000
    after = pruned(database)
    assert after[mails["resolved"]] == (0, "", True)
    assert after[mails["filtered"]] == (0, "", True)
    assert after[mails["open"]] == before[mails["open"]]  # its incident is open
    assert after[mails["recent"]] == before[mails["recent"]]  # younger than 30 days
    # The subject, the outcome and the timeline stay.
    shown = stored_mail(database, mails["resolved"])
    assert shown.detail.subject == "web01 disk" and shown.outcomes[0]["outcome"] == "created"
    assert shown.detail.pruned_at == iso_utc(clock()) and shown.raw == b""
    assert show_incident(database, mails["resolved_incident"]).to_json()["timeline"] == timeline
    [detail] = incident_mails(database, mails["resolved_incident"])
    assert (detail.subject, detail.text, detail.pruned_at) == ("web01 disk", "", iso_utc(clock()))


def test_a_second_prune_frees_nothing(database, clock, mails):
    assert prune_mails(database, timedelta(days=30), clock=clock).mails == 2
    clock.advance(hours=1)
    again = prune_mails(database, timedelta(days=30), clock=clock)
    assert (again.mails, again.bytes) == (0, 0)


def test_a_dry_run_says_what_it_would_free_and_changes_nothing(database, clock, mails):
    before = pruned(database)
    dry = prune_mails(database, timedelta(days=30), dry_run=True, clock=clock)
    assert pruned(database) == before
    real = prune_mails(database, timedelta(days=30), clock=clock)
    assert (
        (dry.mails, dry.bytes, dry.dry_run)
        == (real.mails, real.bytes, True)
        == (2, real.bytes, True)
    )


def test_small_batches_prune_the_same_mails(database, clock, mails):
    report = prune_mails(database, timedelta(hours=12), clock=clock, batch=1)
    assert report.mails == 3  # the recent mail (a day old) too; the open one stays
    assert pruned(database)[mails["open"]][2] is False


def test_serve_prunes_once_a_day_by_retention_days(database, user, clock, mails):
    assert prune_if_due(database, clock=clock) is None  # retention_days 0: keep forever
    assert not any(state[2] for state in pruned(database).values())
    save_org(database, user, OrgView(retention_days=30))
    first = prune_if_due(database, clock=clock)
    assert first is not None and first.mails == 2
    change_state(database, user, "resolve", [mails["open_incident"]], clock=clock)
    clock.advance(hours=23)
    assert prune_if_due(database, clock=clock) is None  # pruned less than a day ago
    clock.advance(hours=1)
    second = prune_if_due(database, clock=clock)
    assert second is not None and second.mails == 1  # the incident resolved since


def test_sqlite_gives_the_pages_back_when_the_file_allows_it(database, clock, mails):
    report = prune_mails(database, timedelta(days=30), clock=clock)
    if not database.is_sqlite:
        assert report.space == "postgresql"
        return
    assert report.space == "returned"  # new files are made with auto_vacuum=INCREMENTAL
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA freelist_count").scalar() == 0


def test_a_pruned_mail_is_not_decided_again_nor_explained(database, user, clock, mails):
    prune_mails(database, timedelta(days=30), clock=clock)
    # Without its filter, the filtered mail would open an incident if decided again.
    unfiltered = {"name": "nagios", "address": SOURCE, "creation": "per_subject"}
    save_source(database, user, unfiltered, original="nagios", clock=clock)
    report = reprocess_mails(database, user, "nagios", apply=True, clock=clock)
    [filtered] = [mail for mail in report.mails if mail.mail_id == mails["filtered"]]
    assert (filtered.outcome, filtered.changed) == ("filtered", False)
    assert "pruned on 2026-12-31 (retention): not redone" in filtered.reason
    with pytest.raises(IncidentError, match="was pruned on 2026-12-31 .* its text is gone"):
        explain_mail(database, mails["filtered"])


def test_a_prune_stops_between_batches_when_serve_stops(database, clock, mails):
    asked: list[bool] = []

    def keep_going() -> bool:  # two batches, then serve is stopping
        asked.append(len(asked) < 2)
        return asked[-1]

    report = prune_mails(database, timedelta(hours=12), clock=clock, batch=1, keep_going=keep_going)
    assert report.mails == 2  # of the 3 prunable: the third is left to the next prune
    assert prune_mails(database, timedelta(hours=12), clock=clock).mails == 1


def test_the_notifier_pages_while_the_daily_prune_runs(database, user, tmp_path, monkeypatch):
    """A first prune of years of mail takes minutes: the notifier's loop must not wait for
    it. The prune is held here until the notifier has dispatched a heartbeat's page."""
    from app.core.notifications.integrations import IntegrationSpec, save_integration
    from app.core.sending.shared import load_shared_config
    from app.server.notifier import notify_until

    clock = Clock(T0)
    save_source(database, user, {"name": "watchdog", "address": SOURCE}, clock=clock)
    with database.write() as session:
        session.execute(text("UPDATE alert_source SET heartbeat_minutes = 30"))
    save_integration(database, user, IntegrationSpec("ops@x.example", "all"), confirmed=True)
    save_org(database, user, OrgView(retention_days=30))
    clock.advance(minutes=31)  # the heartbeat is overdue: its incident opens, a page is queued
    prune_started, prune_may_end = threading.Event(), threading.Event()

    def held_prune(*_args, **_kwargs):
        prune_started.set()
        assert prune_may_end.wait(60)
        return None

    monkeypatch.setattr("app.core.store.retention.prune_if_due", held_prune)
    running: dict = {}

    async def notifier() -> None:
        running["stop"], running["loop"] = asyncio.Event(), asyncio.get_running_loop()
        shared = tmp_path / "none.conf"
        await notify_until(
            running["stop"], database, lambda: load_shared_config(shared), clock=clock
        )

    thread = threading.Thread(target=asyncio.run, args=(notifier(),))
    thread.start()
    try:
        assert prune_started.wait(60)
        deadline = time.monotonic() + 60
        while set(delivery_statuses(database)) <= {"queued"}:  # none tried yet
            assert time.monotonic() < deadline, "the page waited for the prune"
            time.sleep(0.05)
        assert not prune_may_end.is_set()  # it was tried while the prune ran
    finally:
        prune_may_end.set()
        if "loop" in running:
            running["loop"].call_soon_threadsafe(running["stop"].set)
        thread.join(60)
    assert not thread.is_alive()


def delivery_statuses(database) -> list[str]:
    with database.read() as session:
        return list(session.execute(select(Delivery.status)).scalars())
