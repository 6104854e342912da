"""A source's severity rules, title rule and heartbeat (SPEC §11, §12): refused with the
entry and key when wrong, saved and read back, exported and imported, and read from a mail."""

from __future__ import annotations

import pytest
import tomli_w

from app.core.configfile import ConfigFileError, export_config, import_config, parse_config
from app.core.incidents.views import show_incident
from app.core.intake import rules
from app.core.intake.mail import ELLIPSIS, TITLE_LENGTH, parse_mail
from app.core.intake.pipeline import ingest_mail
from app.core.intake.preview import SampleMail, preview, replay
from app.core.intake.sources import (
    SourceError,
    get_source,
    list_sources,
    parse_source,
    save_source,
)
from tests.mails import alert_mail

BASE = {"name": "nagios", "address": "nagios@alerts.example.com", "severity": "info"}
CRITICAL = {"field": "subject", "op": "contains", "value": "CRITICAL", "severity": "alert"}
WARNING = {"field": "subject", "op": "contains", "value": "WARNING", "severity": "warning"}
TITLE = {"field": "subject", "extractor": "regex", "pattern": r"Alert: (\S+)/(.+) is"}


def spec(**settings):
    return parse_source({**BASE, **settings}, "source")


def mail(subject: str, body: str = "CRITICAL"):
    return parse_mail(alert_mail(subject, body))


def sample(number: int, subject: str) -> SampleMail:
    raw = alert_mail(subject, message_id=f"<{number}@mon.example.net>")
    return SampleMail(f"mail {number}", parse_mail(raw), raw)


# Validation: at save, as config import validates


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"severity_rule": [CRITICAL, {**WARNING, "severity": "critical"}]},
            "source (nagios): severity_rule 2: severity 'critical' is not one of alert, "
            "warning, info: map the monitor's word to one of them",
        ),
        (
            {"severity_rule": [{k: v for k, v in CRITICAL.items() if k != "severity"}]},
            "severity_rule 1: severity is missing: give the severity",
        ),
        (
            {"severity_rule": [{**CRITICAL, "op": "matches", "value": "(CRIT"}]},
            "severity_rule 1: value: `(CRIT` is not a valid RE2 expression: missing ): (CRIT",
        ),
        (
            {"severity_rule": [{**CRITICAL, "field": "subjet"}]},
            "severity_rule 1: field 'subjet' is not one of subject, body, from, to, cc or "
            "header:<Name>",
        ),
        (
            {"severity_rule": [{**CRITICAL, "op": "has"}]},
            "severity_rule 1: op 'has' is not one of contains",
        ),
        (
            {"severity_rule": [{**CRITICAL, "level": "alert"}]},
            "severity_rule 1: unknown key 'level'; known: field, op, value, case_sensitive, "
            "severity",
        ),
        ({"severity_rule": CRITICAL}, "severity_rule must be a list of tables"),
        (
            {"title_rule": {"field": "subject", "extractor": "regex", "pattern": r"\S+"}},
            "source (nagios): title_rule: pattern `\\S+` has no capture group: put the title "
            "in parentheses",
        ),
        (
            {"title_rule": {"field": "subject", "extractor": "split", "start": "x"}},
            "title_rule: extractor 'split' is not one of regex, between, after, before",
        ),
        (
            {"title_rule": {"field": "from", "extractor": "after", "start": "x"}},
            "title_rule: field 'from' is not one of subject, body",
        ),
        ({"title_rule": [TITLE]}, "title_rule: must be a table of keys, not list"),
        (
            {"heartbeat_minutes": -5},
            "heartbeat_minutes -5 is outside 1 to 10080 minutes (a week); 0 (or none) turns "
            "the heartbeat off",
        ),
        ({"heartbeat_minutes": 10081}, "heartbeat_minutes 10081 is outside 1 to 10080"),
        ({"heartbeat_minutes": "30"}, "heartbeat_minutes must be a whole number of minutes"),
        ({"heartbeat_minutes": 1.5}, "heartbeat_minutes must be a whole number of minutes"),
        ({"heartbeat_minutes": True}, "heartbeat_minutes must be a whole number of minutes"),
    ],
)
def test_a_wrong_severity_rule_title_rule_or_heartbeat_is_refused_and_nothing_is_saved(
    database, user, change, message
):
    with pytest.raises(SourceError) as refused:
        save_source(database, user, {**BASE, **change})
    assert message in str(refused.value)
    assert list_sources(database) == []


@pytest.mark.parametrize("minutes", [0, 1, 10080])
def test_the_heartbeats_limits_are_accepted_and_zero_is_off(minutes):
    assert spec(heartbeat_minutes=minutes).heartbeat_minutes == minutes
    assert ("heartbeat_minutes" in spec(heartbeat_minutes=minutes).to_dict()) == bool(minutes)


def test_saved_rules_and_heartbeat_are_read_back_as_saved(database, user):
    data = {
        **BASE,
        "severity_rule": [CRITICAL, {**WARNING, "case_sensitive": True}],
        "title_rule": TITLE,
        "heartbeat_minutes": 30,
    }
    save_source(database, user, data)
    read = get_source(database, user, "nagios").spec
    assert read == parse_source(data, "source")
    assert read.to_dict()["severity_rule"] == data["severity_rule"]
    assert read.to_dict()["title_rule"] == TITLE and read.heartbeat_minutes == 30
    save_source(database, user, BASE, original="nagios")  # rules removed, heartbeat off
    cleared = get_source(database, user, "nagios").spec
    assert (cleared.severity_rules, cleared.title_rule, cleared.heartbeat_minutes) == ((), None, 0)


# Reading severity and title from a mail


def test_the_first_severity_rule_that_holds_gives_the_severity():
    source = spec(severity_rule=[CRITICAL, WARNING, {**WARNING, "value": "Alert"}])
    assert source.severity_for(mail("Service Alert: web01/Disk is CRITICAL")) == "alert"
    assert source.severity_for(mail("Service Alert: web01/Disk is WARNING")) == "warning"
    both = mail("WARNING: web01/Disk went from WARNING to CRITICAL")
    assert source.severity_for(both) == "alert"  # rule 1 before rule 2, whatever the text
    reordered = spec(severity_rule=[WARNING, CRITICAL])
    assert reordered.severity_for(both) == "warning"


def test_no_rule_holding_or_no_rules_gives_the_sources_severity():
    assert spec(severity_rule=[CRITICAL]).severity_for(mail("web01 is OK")) == "info"
    assert spec().severity_for(mail("web01 is CRITICAL")) == "info"
    assert spec(severity="warning").severity_for(mail("anything")) == "warning"


def test_severity_rules_ignore_case_unless_told_and_read_any_field():
    loose = spec(severity_rule=[CRITICAL])
    strict = spec(severity_rule=[{**CRITICAL, "case_sensitive": True}])
    lower = mail("web01 is critical")
    assert loose.severity_for(lower) == "alert"
    assert strict.severity_for(lower) == "info"
    assert strict.severity_for(mail("web01 is CRITICAL")) == "alert"
    by_header = spec(
        severity_rule=[
            {"field": "header:X-Nagios-State", "op": "equals", "value": "warning",
             "severity": "warning"},
            {"field": "body", "op": "matches", "value": r"^State: CRIT", "severity": "alert"},
        ]
    )  # fmt: skip
    raw = alert_mail("web01", "State: CRITICAL", headers={"X-Nagios-State": "WARNING"})
    assert by_header.severity_for(parse_mail(raw)) == "warning"
    assert by_header.severity_for(mail("web01", "Host down\nState: CRITICAL")) == "info"  # ^


def test_rules_are_compiled_once_when_the_source_is_read(monkeypatch):
    source = spec(
        severity_rule=[{**CRITICAL, "op": "matches", "value": "CRIT(ICAL)?"}], title_rule=TITLE
    )

    def refused(*args, **kwargs):
        raise AssertionError("compiled again while reading a mail")

    monkeypatch.setattr(rules, "compile_re2", refused)
    subject = "Service Alert: web01/Disk /var is CRITICAL"
    assert source.severity_for(mail(subject)) == "alert"
    assert source.title_for(mail(subject)) == "web01-Disk /var"


def test_the_title_rule_reads_the_title_or_none():
    assert spec(title_rule=TITLE).title_for(mail("Service Alert: db02/Load is WARNING")) == (
        "db02-Load"
    )
    assert spec(title_rule=TITLE).title_for(mail("Hello")) is None  # extracts nothing
    assert spec().title_for(mail("Service Alert: db02/Load is WARNING")) is None  # no rule
    spaces = spec(title_rule={"field": "subject", "extractor": "after", "start": "Alert:"})
    assert spaces.title_for(mail("Alert:    ")) is None  # only white space: no title


def test_a_title_from_the_body_is_one_line_and_capped_as_titles_are():
    between = spec(
        title_rule={"field": "body", "extractor": "between", "start": "Summary:", "end": "--"}
    )
    body = "Summary:  Disk /var\n  on web01\tis full\n--\nmore"
    assert between.title_for(mail("x", body)) == "Disk /var on web01 is full"
    long = spec(title_rule={"field": "body", "extractor": "after", "start": "Summary: "})
    title = long.title_for(mail("x", "Summary: " + "x" * 600))
    assert len(title) == TITLE_LENGTH and title.endswith(ELLIPSIS)
    assert long.title_for(mail("x", "Summary: " + "y" * TITLE_LENGTH)) == "y" * TITLE_LENGTH


# Configuration as code


def source_file(*others: dict, **settings) -> str:
    entry = {"name": "src", "address": "src@x.io", **settings}
    return tomli_w.dumps({"source": [entry, *others]})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"severity_rule": [CRITICAL, {**WARNING, "severity": "major"}]},
            "[[source]] 1 (src): severity_rule 2: severity 'major' is not one of alert, warning",
        ),
        (
            {"severity_rule": [{**CRITICAL, "op": "matches", "value": r"(\w+)\1"}]},
            "[[source]] 1 (src): severity_rule 1: value: `(\\w+)\\1` is not a valid RE2",
        ),
        (
            {"title_rule": {"field": "subject", "extractor": "between", "start": "a"}},
            "[[source]] 1 (src): title_rule: end must be a non-empty string",
        ),
        ({"heartbeat_minutes": 0.5}, "[[source]] 1 (src): heartbeat_minutes must be a whole"),
        ({"heartbeat_minutes": 20000}, "[[source]] 1 (src): heartbeat_minutes 20000 is outside"),
    ],
)
def test_a_wrong_file_names_the_entry_and_key_and_imports_nothing(
    database, user, settings, message
):
    import_config(database, user, source_file())
    before = export_config(database)
    with pytest.raises(ConfigFileError) as refused:
        good = {"name": "z", "address": "z@x.io"}
        import_config(database, user, source_file(good, **settings))
    assert message in str(refused.value)
    assert export_config(database) == before


def test_the_keys_written_as_the_spec_writes_them_are_imported(database, user):
    text = """
[[source]]
name = "nagios"
address = "nagios@alerts.example.com"
severity = "info"
heartbeat_minutes = 60
title_rule = { field = "subject", extractor = "regex", pattern = 'Alert: (\\S+)/(.+) is' }
[[source.severity_rule]]
field = "subject"
op = "contains"
value = "CRITICAL"
severity = "alert"
[[source.severity_rule]]
field = "subject"
op = "contains"
value = "WARNING"
severity = "warning"
"""
    assert import_config(database, user, text).created == ("source nagios",)
    [read] = list_sources(database)
    assert [rule.severity for rule in read.severity_rules] == ["alert", "warning"]
    assert read.title_rule.pattern == r"Alert: (\S+)/(.+) is" and read.heartbeat_minutes == 60


def test_export_then_import_keeps_severity_rules_title_rule_and_heartbeat(database, user):
    settings = {
        "severity_rule": [CRITICAL, {**WARNING, "op": "matches", "case_sensitive": True}],
        "title_rule": {"field": "body", "extractor": "between", "start": "Host:", "end": "\n"},
        "heartbeat_minutes": 1440,
    }
    import_config(database, user, source_file(**settings))
    exported = export_config(database)
    [entry] = [entry for entry in parse_config(exported).sources]
    assert {key: entry.to_dict()[key] for key in settings} == settings
    assert import_config(database, user, exported).updated == ("source src",)
    assert export_config(database) == exported
    import_config(database, user, source_file())  # the file drops them: they are gone
    assert not {"severity_rule", "title_rule", "heartbeat_minutes"} & set(
        list_sources(database)[0].to_dict()
    )


# The preview


def test_the_preview_shows_each_mails_severity_and_title_and_raises_on_a_worse_append():
    source = spec(
        creation="by_key",
        key_rule=[TITLE],
        severity_rule=[CRITICAL, WARNING],
        title_rule={"field": "subject", "extractor": "after", "start": "Alert: "},
    )
    samples = [
        sample(1, "Service Alert: web01/Disk is WARNING"),
        sample(2, "Service Alert: web01/Disk is CRITICAL"),
        sample(3, "Service Alert: web01/Disk is WARNING"),
        sample(4, "Service Alert: db02/Load is OK"),
    ]
    seen = [(v.describe(), v.severity, v.title) for v in replay(source, samples)]
    assert seen == [
        ("created ▸1", "warning", "web01/Disk is WARNING"),
        ("appended ▸1", "alert", "web01/Disk is WARNING"),  # raised, the title kept
        ("appended ▸1", "alert", "web01/Disk is WARNING"),  # never lowered
        ("created ▸4", "info", "db02/Load is OK"),  # no rule held: the source's
    ]
    filtered = replay(spec(filter=[{"field": "subject", "op": "contains", "value": "z"}]), samples)
    assert {(v.severity, v.title) for v in filtered} == {(None, None)}  # no incident


def test_a_severity_or_title_changed_by_an_edit_is_a_difference():
    samples = [sample(1, "Service Alert: web01/Disk is CRITICAL"), sample(2, "db02 is OK")]
    saved = spec()
    assert [row.edited.title for row in preview(saved, saved, samples).rows] == [
        "Service Alert: web01/Disk is CRITICAL",  # no title rule: the subject
        "db02 is OK",
    ]
    rows = preview(saved, spec(severity_rule=[CRITICAL]), samples).rows
    assert [row.differs for row in rows] == [True, False]
    assert (rows[0].saved.severity, rows[0].edited.severity) == ("info", "alert")
    rows = preview(saved, spec(title_rule=TITLE), samples).rows
    assert [row.differs for row in rows] == [True, False]
    assert rows[0].edited.title == "web01-Disk"


def test_the_previews_severity_and_title_are_what_ingest_then_gives(database, user):
    """The same mails through the preview and through ingest: each incident's severity and
    title after each mail agree (a worse append raises it in both)."""
    data = {
        **BASE,
        "creation": "by_key",
        "key_rule": [TITLE],
        "resolve_rule": [{"field": "subject", "op": "contains", "value": "OK"}],
        "severity_rule": [CRITICAL, WARNING],
        "title_rule": {"field": "subject", "extractor": "after", "start": "Alert: "},
    }
    samples = [
        sample(1, "Service Alert: web01/Disk is WARNING"),
        sample(2, "Service Alert: db02/Load is HIGH"),
        sample(3, "Service Alert: web01/Disk is CRITICAL"),
        sample(4, "Service Alert: web01/Disk is WARNING"),
        sample(5, "Service Alert: web01/Disk is OK"),
    ]
    predicted = replay(parse_source(data, "editor"), samples)
    save_source(database, user, data)
    incident_of_row: dict[int, int] = {}
    for number, (mail_sample, verdict) in enumerate(zip(samples, predicted, strict=True), 1):
        [outcome] = ingest_mail(database, mail_sample.raw, [BASE["address"]], via="ingest").outcomes
        assert outcome.outcome == verdict.outcome, (number, outcome.reason)
        if verdict.outcome == "created":
            incident_of_row[number] = outcome.incident_id
        incident = show_incident(database, incident_of_row[verdict.incident]).incident
        assert (incident.severity, incident.title) == (verdict.severity, verdict.title), number
    assert [(v.severity, v.title) for v in predicted] == [
        ("warning", "web01/Disk is WARNING"),
        ("info", "db02/Load is HIGH"),
        ("alert", "web01/Disk is WARNING"),
        ("alert", "web01/Disk is WARNING"),
        ("alert", "web01/Disk is WARNING"),
    ]
