"""Saving, listing, enabling and deleting sources through core, as the screens do."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import (
    SourceError,
    delete_source,
    deletion_impact,
    get_source,
    list_source_summaries,
    save_source,
    set_source_enabled,
)
from app.core.store.db import utc_now
from app.core.users import PermissionDenied, add_user, ensure_user
from tests.unit.test_engine import mail

BASE = {"name": "nagios", "address": "Nagios@Alerts.Example.com"}


def summaries(database, user):
    return list_source_summaries(database, user, since=utc_now() - timedelta(hours=1))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "  "}, "name must be a non-empty string"),
        ({"name": "x" * 129}, "name is 129 characters long; at most 128"),
        ({"name": "a\nb"}, "name must be one line"),
        ({"address": "nagios"}, "lacks the @domain part"),
        ({"address": "a@b.com\r\nBcc: x@y.z"}, "cannot contain a line break"),
        ({"severity": "critical"}, "severity 'critical' is not one of alert, warning, info"),
        ({"creation": "by_key"}, "creation 'by_key' needs at least one [[source.key_rule]]"),
        (
            {"filter": [{"field": "subject", "op": "matches", "value": "(unclosed"}]},
            "filter 1: value: `(unclosed` is not a valid RE2 expression: missing ): (unclosed",
        ),
        (
            {
                "creation": "by_key",
                "key_rule": [{"field": "subject", "extractor": "regex", "pattern": "Alert"}],
            },
            "has no capture group: put the key in parentheses",
        ),
        (
            {"key_rule": [{"field": "from", "extractor": "after", "start": "x"}]},
            "field 'from' is not one of subject, body",
        ),
    ],
)
def test_a_wrong_source_is_refused_with_the_reason_and_nothing_is_saved(
    database, user, change, message
):
    with pytest.raises(SourceError) as refused:
        save_source(database, user, {**BASE, **change})
    assert message in str(refused.value)
    assert summaries(database, user) == []


def test_names_and_addresses_are_unique_whatever_the_case_of_the_address(database, user):
    save_source(database, user, BASE)
    with pytest.raises(SourceError, match="address 'nagios@alerts.example.com' is already used"):
        save_source(database, user, {"name": "other", "address": "NAGIOS@alerts.example.com"})
    with pytest.raises(SourceError, match="name 'nagios' is already used by the source 'nagios'"):
        save_source(database, user, {"name": "nagios", "address": "n2@alerts.example.com"})


def test_an_edit_renames_in_place_and_keeps_the_incidents(database, user):
    save_source(database, user, BASE)
    ingest_mail(database, mail("disk full"), ["nagios@alerts.example.com"], via="ingest")
    version = get_source(database, user, "nagios").version
    save_source(database, user, {**BASE, "name": "nagios-prod"}, original="nagios", version=version)
    [summary] = summaries(database, user)
    assert (summary.spec.name, summary.open_incidents, summary.mails_today) == (
        "nagios-prod",
        1,
        1,
    )
    assert summary.last_mail_at is not None


def test_saving_over_a_newer_version_is_refused(database, user):
    save_source(database, user, BASE)
    stale = get_source(database, user, "nagios").version
    later = utc_now() + timedelta(seconds=5)
    save_source(
        database, user, {**BASE, "severity": "info"}, original="nagios", clock=lambda: later
    )
    with pytest.raises(SourceError, match="changed by someone else since you opened it"):
        save_source(
            database, user, {**BASE, "severity": "warning"}, original="nagios", version=stale
        )
    assert get_source(database, user, "nagios").spec.severity == "info"


def test_a_disabled_source_stops_receiving_and_keeps_its_rules(database, user):
    save_source(database, user, BASE)
    set_source_enabled(database, user, "nagios", False)
    result = ingest_mail(database, mail("disk"), ["nagios@alerts.example.com"], via="ingest")
    assert not result.stored
    assert get_source(database, user, "nagios").spec.enabled is False


def test_deleting_takes_the_incidents_and_outcomes_and_says_how_many(database, user):
    save_source(database, user, BASE)
    for subject in ("disk", "load"):
        ingest_mail(database, mail(subject), ["nagios@alerts.example.com"], via="ingest")
    impact = deletion_impact(database, "nagios")
    assert (impact.incidents, impact.mails) == (2, 2)
    delete_source(database, user, "nagios")
    assert summaries(database, user) == []
    with pytest.raises(SourceError, match="no source named 'nagios'"):
        delete_source(database, user, "nagios")


def test_each_change_needs_its_permission(database, user):
    save_source(database, user, BASE)
    add_user(database, user, "bob", permissions=["view_connections"])
    bob = ensure_user(database, "bob")
    assert [s.spec.name for s in summaries(database, bob)] == ["nagios"]
    for refused in (
        lambda: save_source(database, bob, {**BASE, "name": "x", "address": "x@example.com"}),
        lambda: set_source_enabled(database, bob, "nagios", False),
        lambda: delete_source(database, bob, "nagios"),
    ):
        with pytest.raises(PermissionDenied):
            refused()
    add_user(database, user, "eve", permissions=[])
    with pytest.raises(PermissionDenied):
        summaries(database, ensure_user(database, "eve"))
