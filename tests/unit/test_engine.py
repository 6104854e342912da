"""Rules and creation modes, in process: every mode, op, extractor and outcome of SPEC §4."""

from __future__ import annotations

from functools import partial

import pytest
import tomli_w
from sqlalchemy.exc import IntegrityError

from app.core.configfile import ConfigFileError, export_config, import_config, parse_config
from app.core.incidents.log import mail_detail_of
from app.core.incidents.views import IncidentError, change_state, list_incidents, show_incident
from app.core.intake.mail import parse_mail
from app.core.intake.pipeline import ingest_mail
from app.core.intake.rules import parse_condition, parse_key_rule
from app.core.store.db import utc_now
from app.core.store.models import Incident, Mail
from app.core.users import PermissionDenied, add_user
from tests.mails import alert_mail

ADDRESS = "src@alerts.example.com"


mail = partial(alert_mail, sender="monitor@mon.example.net", to=ADDRESS)  # to the source src


def source(database, user, **settings) -> None:
    """Import one source named src at ADDRESS, through the same path as a config file."""
    document = {"source": [{"name": "src", "address": ADDRESS, **settings}]}
    import_config(database, user, tomli_w.dumps(document))


def send(database, raw: bytes) -> tuple[str, int | None, str]:
    [outcome] = ingest_mail(database, raw, [ADDRESS], via="ingest").outcomes
    return outcome.outcome, outcome.incident_id, outcome.reason


def test_per_email_opens_an_incident_for_every_mail(database, user):
    source(database, user, creation="per_email")
    first, second = send(database, mail("disk full")), send(database, mail("disk full"))
    assert first[0] == second[0] == "created" and first[1] != second[1]


def test_per_subject_ignores_case_and_whitespace_and_only_looks_at_open_incidents(database, user):
    source(database, user, creation="per_subject")
    created = send(database, mail("Disk  FULL on web01"))
    assert send(database, mail("disk full on\tweb01"))[:2] == ("appended", created[1])
    change_state(database, user, "resolve", [created[1]])
    assert send(database, mail("disk full on web01"))[0] == "created"


def test_single_pending_appends_to_the_pending_one_until_it_is_accepted(database, user):
    source(database, user, creation="single_pending")
    created = send(database, mail("a"))
    assert send(database, mail("b"))[:2] == ("appended", created[1])
    change_state(database, user, "accept", [created[1]])
    assert send(database, mail("c"))[0] == "created"


def test_single_open_appends_until_every_incident_is_resolved(database, user):
    source(database, user, creation="single_open")
    created = send(database, mail("a"))
    change_state(database, user, "accept", [created[1]])
    assert send(database, mail("b"))[:2] == ("appended", created[1])
    change_state(database, user, "resolve", [created[1]])
    assert send(database, mail("c"))[0] == "created"


BY_KEY = dict(
    creation="by_key",
    key_rule=[{"field": "subject", "extractor": "regex", "pattern": r"host=(\w+) check=(\w+)"}],
    resolve_rule=[{"field": "subject", "op": "starts_with", "value": "OK"}],
)


def test_by_key_appends_resolves_and_records_orphans(database, user):
    source(database, user, **BY_KEY)
    created = send(database, mail("PROBLEM host=web01 check=disk"))
    assert created[0] == "created" and "web01-disk" in created[2]
    appended = send(database, mail("PROBLEM again host=web01 check=disk"))
    assert appended[:2] == ("appended", created[1])
    incident = show_incident(database, created[1]).incident
    assert (incident.state, incident.mail_count, incident.key) == ("pending", 2, "web01-disk")
    change_state(database, user, "accept", [created[1]])
    assert send(database, mail("PROBLEM host=web01 check=disk"))[0] == "appended"
    assert (
        show_incident(database, created[1]).incident.state == "accepted"
    )  # appends never change it
    assert send(database, mail("OK host=web01 check=disk"))[:2] == ("resolved", created[1])
    detail = show_incident(database, created[1])
    assert (detail.incident.state, detail.incident.resolved_by, detail.incident.mail_count) == (
        "resolved", "email", 4)  # fmt: skip
    assert [entry.kind for entry in detail.timeline] == [
        "created", "mail", "accepted", "mail", "mail", "resolved"]  # fmt: skip
    orphan = send(database, mail("OK host=db01 check=load"))
    assert orphan[0] == "orphan_resolve" and "'db01-load'" in orphan[2]


@pytest.mark.parametrize(
    ("on_no_key", "expected"), [("drop", "no_key"), ("subject", "created"), ("new", "created")]
)
def test_on_no_key(database, user, on_no_key, expected):
    source(database, user, **BY_KEY, on_no_key=on_no_key)
    first = send(database, mail("something else entirely"))
    assert first[0] == expected
    second = send(database, mail("Something  else entirely"))
    if on_no_key == "subject":
        assert second[:2] == ("appended", first[1])
    elif on_no_key == "new":
        assert second[0] == "created" and second[1] != first[1]
    else:
        assert second[0] == "no_key" and "regex" in second[2]


@pytest.mark.parametrize(
    ("extractor", "text", "key"),
    [
        ({"extractor": "between", "start": "Host: ", "end": "\n"}, "x\nHost: web01\ny", "web01"),
        ({"extractor": "after", "start": "ID:"}, "a\nID:  4711  \nb", "4711"),
        ({"extractor": "before", "end": " is DOWN"}, "x\ndb01 is DOWN\n", "db01"),
        ({"extractor": "regex", "pattern": r"ID (\d+)"}, "ID 42", "42"),
    ],
)
def test_each_extractor_reads_a_trimmed_key_from_the_body(extractor, text, key):
    rule = parse_key_rule({"field": "body", **extractor}, "key_rule 1")
    assert rule.extract(parse_mail(mail("s", text))) == key


FILTER_CASES = [
    ("subject", "contains", "disk", True),
    ("subject", "not_contains", "disk", False),
    ("subject", "equals", "disk FULL on web01", True),
    ("subject", "not_equals", "disk full on web01", False),
    ("subject", "starts_with", "DISK", True),
    ("subject", "ends_with", "web02", False),
    ("subject", "matches", r"on web\d+$", True),
    ("subject", "not_matches", r"^Disk", False),
    ("body", "contains", "free space", True),
    ("from", "ends_with", "@mon.example.net", True),
    ("to", "equals", ADDRESS, True),
    ("cc", "contains", "ops@", True),
    ("header:X-Severity", "equals", "critical", True),
    ("header:X-Missing", "equals", "", True),
]


@pytest.mark.parametrize(("field", "op", "value", "holds"), FILTER_CASES)
def test_every_filter_field_and_op(field, op, value, holds):
    parsed = parse_mail(
        mail(
            "Disk FULL on web01",
            "free space 3%",
            headers={"Cc": "ops@example.com", "X-Severity": "Critical"},
        )
    )
    condition = parse_condition({"field": field, "op": op, "value": value}, "filter 1")
    assert condition.holds(parsed) is holds


def test_case_sensitive_conditions():
    parsed = parse_mail(mail("Disk FULL"))
    rule = {"field": "subject", "op": "contains", "value": "full", "case_sensitive": True}
    assert not parse_condition(rule, "f").holds(parsed)
    rule["op"], rule["value"] = "matches", "FULL$"
    assert parse_condition(rule, "f").holds(parsed)


def test_filtered_names_the_condition_that_failed_and_any_needs_one(database, user):
    filters = [
        {"field": "subject", "op": "contains", "value": "PROBLEM"},
        {"field": "body", "op": "contains", "value": "prod"},
    ]
    source(database, user, creation="per_email", filter=filters)
    outcome = send(database, mail("PROBLEM x", "staging"))
    assert outcome[0] == "filtered" and "body contains 'prod'" in outcome[2]
    source(database, user, creation="per_email", filter=filters, filter_match="any")
    assert send(database, mail("PROBLEM x", "staging"))[0] == "created"
    assert send(database, mail("nothing", "staging"))[2].startswith("no condition held")


@pytest.mark.parametrize(
    "headers",
    [{"Auto-Submitted": "auto-replied"}, {"X-Autoreply": "yes"}, {"Precedence": "auto_reply"}],
)
def test_automatic_replies_are_loops(database, user, headers):
    source(database, user, creation="per_email")
    assert send(database, mail("Out of office", headers=headers))[0] == "loop"


def test_a_redelivered_mail_is_a_duplicate_of_the_first(database, user):
    source(database, user, creation="per_email")
    raw = mail("disk full")
    created = send(database, raw)
    again = send(database, raw)
    assert again[:2] == ("duplicate", created[1]) and "already received as mail" in again[2]
    assert len(list_incidents(database, state="all")) == 1


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"field": "subject", "extractor": "regex", "pattern": r"\S+"}, "no capture group"),
        ({"field": "subject", "extractor": "regex", "pattern": "(a"}, "not a valid RE2"),
        ({"field": "subject", "extractor": "regex", "pattern": r"(\w+)\1"}, "not a valid RE2"),
        ({"field": "subject", "extractor": "between", "start": "a"}, "end must be"),
        ({"field": "from", "extractor": "after", "start": "a"}, "field 'from'"),
        ({"field": "body", "extractor": "split", "start": "a"}, "extractor 'split'"),
    ],
)
def test_bad_key_rules_are_refused_at_import_naming_the_entry(database, user, entry, message):
    with pytest.raises(ConfigFileError) as caught:
        source(database, user, creation="by_key", key_rule=[entry])
    assert "[[source]] 1 (src): key_rule 1" in str(caught.value) and message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[source]]\nname = "a"\naddress = "a@x.io"\ncreation = "sometimes"\n', "creation"),
        ('[[source]]\nname = "a"\naddress = "a@x.io"\nseverity = "low"\n', "severity"),
        ('[[source]]\nname = "a"\naddress = "not an address"\n', "address"),
        ('[[source]]\nname = "a"\naddress = "a@x.io"\ncolour = "red"\n', "unknown key 'colour'"),
        ('[[source]]\nname = "a"\naddress = "a@x.io"\ncreation = "by_key"\n', "key_rule"),
        ('[[source]]\nname = "a"\naddress = "a@x.io"\n[[source]]\nname = "b"\naddress = "A@x.io"\n',
         "already used"),
        ("[[sources]]\n", r"unknown section \[sources\]"),
        ('[[silence]]\nreason = "x"\n', r"\[\[silence\]\] is not configuration.*silences add"),
        ("source = [", "not valid TOML"),
    ],
)  # fmt: skip
def test_a_bad_file_changes_nothing(database, user, text, message):
    source(database, user, creation="per_email")
    before = export_config(database)
    with pytest.raises(ConfigFileError, match=message):
        import_config(database, user, text + '[[source]]\nname = "z"\naddress = "z@x.io"\n')
    assert export_config(database) == before


def test_export_then_import_is_the_same_configuration(database, user):
    source(database, user, **BY_KEY, filter=[{"field": "subject", "op": "matches", "value": "x"}])
    exported = export_config(database)
    specs = parse_config(exported).sources
    assert specs[0].to_dict()["key_rule"][0]["pattern"] == r"host=(\w+) check=(\w+)"
    report = import_config(database, user, exported)
    assert report.updated == ("source src",) and export_config(database) == exported


def test_prune_needs_delete_permission_and_deletes_the_rest(database, user):
    source(database, user, creation="per_email")
    bob = add_user(database, user, "bob", permissions=["edit_connections"])
    other = '[[source]]\nname = "other"\naddress = "other@x.io"\n'
    with pytest.raises(PermissionDenied):
        import_config(database, bob, other, prune=True)
    assert import_config(database, user, other, prune=True).pruned == ("source src",)


def test_triage_needs_permission_records_the_actor_and_refuses_wrong_transitions(database, user):
    source(database, user, creation="per_email")
    incident_id = send(database, mail("a"))[1]
    bob = add_user(database, user, "bob")
    with pytest.raises(PermissionDenied, match="triage"):
        change_state(database, bob, "accept", [incident_id])
    [accepted] = change_state(database, user, "accept", [incident_id])
    assert accepted.accepted_by == "alice"
    with pytest.raises(IncidentError, match="nothing was changed"):
        change_state(database, user, "reopen", [incident_id])
    change_state(database, user, "resolve", [incident_id])
    [reopened] = change_state(database, user, "reopen", [incident_id])
    assert reopened.state == "pending" and reopened.resolved_by is None
    kinds = [(e.kind, e.actor) for e in show_incident(database, incident_id).timeline]
    assert kinds[1:] == [("accepted", "alice"), ("resolved", "alice"), ("reopened", "alice")]


def test_the_database_holds_one_open_incident_per_key_and_source(database, user):
    source(database, user, **BY_KEY)
    created = send(database, mail("PROBLEM host=a check=b"))
    now = utc_now()
    with pytest.raises(IntegrityError), database.write() as session:
        session.add(Incident(source_id=1, state="pending", severity="alert", title="t",
                             key="a-b", created_at=now, updated_at=now))  # fmt: skip
    change_state(database, user, "resolve", [created[1]])
    with database.write() as session:  # a resolved one no longer counts
        session.add(Incident(source_id=1, state="pending", severity="alert", title="t",
                             key="a-b", created_at=now, updated_at=now))  # fmt: skip


def test_a_nul_byte_in_subject_from_or_message_id_is_stored_and_shown(database, user):
    # PostgreSQL's text holds no NUL: such a mail was 451 forever there (issue 21, item 2).
    # Every text column gets ␀ in its place, a defect says so, and the raw bytes stay.
    source(database, user, creation="per_email")
    raw = (
        b"From: mon\x00itor@mon.example.net\r\nTo: src@alerts.example.com\r\n"
        b"Message-ID: <a\x00b@mon.example.net>\r\nSubject: disk\x00full\r\n\r\nbody\x00end\r\n"
    )
    outcome, incident_id, _reason = send(database, raw)
    assert outcome == "created"
    [incident] = list_incidents(database)
    assert incident.title == "disk\u2400full"
    with database.read() as session:
        stored = session.get(Mail, 1)
        assert stored.raw == raw  # as it came
        detail = mail_detail_of(stored, outcome, "")
    assert (stored.subject, stored.from_header) == (
        "disk\u2400full",
        "mon\u2400itor@mon.example.net",
    )
    assert stored.message_id == "<a\u2400b@mon.example.net>"
    assert stored.body_text.startswith("body\u2400end")
    assert any("NUL" in defect for defect in stored.defects)
    assert detail.text.startswith("body\u2400end")
    # The SMTP envelope's sender too (aiosmtpd hands MAIL FROM over as typed).
    result = ingest_mail(
        database, mail("clean"), [ADDRESS], via="smtp", envelope_from="bo\x00unce@x.example"
    )
    with database.read() as session:
        assert session.get(Mail, result.mail_id).envelope_from == "bo\u2400unce@x.example"
