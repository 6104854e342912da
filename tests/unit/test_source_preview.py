"""The source editor's preview: a replay in memory that agrees with what ingest then does."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.intake.pipeline import ingest_mail
from app.core.intake.preview import SampleError, eml_samples, preview, replay, stored_samples
from app.core.intake.sources import parse_source, save_source

CORPUS = Path(__file__).parents[1] / "fixtures" / "corpus"
NAGIOS = {
    "name": "nagios",
    "address": "nagios@alerts.example.com",
    "creation": "by_key",
    "filter": [{"field": "subject", "op": "matches", "value": r"\b(PROBLEM|RECOVERY)\b"}],
    "key_rule": [
        {"field": "subject", "extractor": "regex", "pattern": r"Alert: (\S+)/(.+) is [A-Z]+"}
    ],
    "resolve_rule": [{"field": "subject", "op": "contains", "value": "RECOVERY"}],
}


def nagios_samples():
    return [sample for sample in eml_samples(str(CORPUS)) if "nagios" in sample.label]


def test_the_recovery_mail_resolves_the_problems_incident_in_the_preview():
    result = preview(None, parse_source(NAGIOS, "editor"), nagios_samples())
    seen = [(row.sample.label[:2], row.edited.describe(), row.edited.key) for row in result.rows]
    assert seen == [
        ("01", "created ▸1", "web01-Disk /var"),
        ("02", "created ▸2", "db02-Load"),
        ("03", "appended ▸1", "web01-Disk /var"),
        ("04", "resolved ▸1", "web01-Disk /var"),
        ("05", "orphan_resolve", "app09-HTTP"),
    ]
    assert result.differences == 0  # nothing saved yet: nothing to compare with


def test_an_edit_is_compared_with_the_saved_rules_and_the_differences_counted():
    saved = parse_source(NAGIOS, "saved")
    edited = parse_source({**NAGIOS, "resolve_rule": []}, "edited")  # recovery rule removed
    result = preview(saved, edited, nagios_samples())
    changed = [row.number for row in result.rows if row.differs]
    assert changed == [4, 5]
    assert result.rows[3].saved.describe() == "resolved ▸1"
    assert result.rows[3].edited.describe() == "appended ▸1"
    assert result.tally("edited") == {"created": 3, "appended": 2}


def test_a_filter_that_refuses_everything_is_seen_before_saving():
    edited = parse_source(
        {**NAGIOS, "filter": [{"field": "from", "op": "contains", "value": "zabbix"}]}, "edited"
    )
    verdicts = replay(edited, nagios_samples())
    assert {verdict.outcome for verdict in verdicts} == {"filtered"}
    assert "from contains 'zabbix'" in verdicts[0].reason


@pytest.mark.parametrize(
    "settings",
    [
        {"creation": "per_email"},
        {"creation": "per_subject"},
        {"creation": "single_pending"},
        {"creation": "single_open"},
        {"creation": "by_key", "on_no_key": "subject", "key_rule": NAGIOS["key_rule"]},
        {"creation": "by_key", "on_no_key": "new", "key_rule": NAGIOS["key_rule"]},
        {"creation": "by_key", "on_no_key": "drop", "key_rule": NAGIOS["key_rule"]},
    ],
)
def test_the_preview_is_what_ingest_then_does(database, user, settings):
    """Every mail of the corpus, twice (the redelivery is a duplicate), through both."""
    data = {
        **{key: NAGIOS[key] for key in ("name", "address", "resolve_rule")},
        **settings,
    }
    samples = eml_samples(str(CORPUS)) * 2
    predicted = replay(parse_source(data, "editor"), samples)
    save_source(database, user, data)
    incident_of_row: dict[int, int] = {}
    for number, (sample, verdict) in enumerate(zip(samples, predicted, strict=True), start=1):
        [outcome] = ingest_mail(
            database, sample.raw, ["nagios@alerts.example.com"], via="ingest"
        ).outcomes
        assert outcome.outcome == verdict.outcome, (number, sample.label, outcome.reason)
        if verdict.outcome == "created":
            incident_of_row[number] = outcome.incident_id
        expected = incident_of_row.get(verdict.incident) if verdict.incident else None
        assert outcome.incident_id == expected, (number, sample.label)
        assert outcome.reason == verdict.reason


def test_stored_samples_are_the_sources_newest_mails_oldest_first_with_their_record(database, user):
    save_source(database, user, NAGIOS)
    for sample in nagios_samples():
        ingest_mail(database, sample.raw, ["nagios@alerts.example.com"], via="smtp")
    stored = stored_samples(database, "nagios", limit=3)
    assert [sample.parsed.subject for sample in stored] == [
        "** PROBLEM Service Alert: web01/Disk /var is CRITICAL **",
        "** RECOVERY Service Alert: web01/Disk /var is OK **",
        "** RECOVERY Service Alert: app09/HTTP is OK **",
    ]
    assert stored[1].recorded.startswith("resolved #1: resolve rule held")
    assert stored[2].recorded.startswith("orphan_resolve: ")
    assert stored_samples(database, "nobody") == []


def test_eml_samples_say_what_is_wrong_with_the_path(tmp_path):
    with pytest.raises(SampleError, match="no such file or folder"):
        eml_samples(str(tmp_path / "missing.eml"))
    with pytest.raises(SampleError, match="holds no .eml files"):
        eml_samples(str(tmp_path))
    with pytest.raises(SampleError, match="type the path"):
        eml_samples("  ")
    broken = tmp_path / "broken.eml"
    broken.write_bytes(b"\xff\xfe not a mail at all \x00\r\n\r\n")
    [sample] = eml_samples(str(broken))  # stored and explained, never a crash
    assert sample.label == "broken.eml" and sample.parsed.subject == ""
