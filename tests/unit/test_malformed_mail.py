"""Malformed mail stored on both backends: its headers, its text and a title that fits a list
(issue 21, item 7)."""

from __future__ import annotations

import tomli_w

from app.core.configfile import import_config
from app.core.incidents.log import mail_detail_of
from app.core.incidents.views import list_incidents, list_mails
from app.core.intake.mail import TITLE_LENGTH
from app.core.intake.pipeline import ingest_mail
from app.core.store.models import Mail
from tests.unit.test_mail import nested_multipart

ADDRESS = "src@alerts.example.com"


def ingest(database, user, raw: bytes) -> tuple[str, int]:
    document = {"source": [{"name": "src", "address": ADDRESS, "creation": "per_email"}]}
    import_config(database, user, tomli_w.dumps(document))
    result = ingest_mail(database, raw, [ADDRESS], via="ingest")
    [outcome] = result.outcomes
    return outcome.outcome, result.mail_id


def test_a_2_mib_subject_is_a_short_title_and_whole_in_the_mail(database, user):
    # It was a 128 KiB title (one folded line per 76 bytes) that flooded every list.
    folded = b"\r\n ".join([b"disk full on db01"] + [b"x" * 75] * 28_000)
    raw = b"From: mon@mon.example.net\r\nSubject: " + folded + b"\r\n\r\nCRITICAL\r\n"
    outcome, mail_id = ingest(database, user, raw)
    assert outcome == "created"
    [incident] = list_incidents(database)
    assert len(incident.title) == TITLE_LENGTH and incident.title.endswith("…")
    assert incident.title.startswith("disk full on db01 xxx")
    [logged] = list_mails(database)
    assert logged.subject == incident.title
    with database.read() as session:
        stored = session.get(Mail, mail_id)
        assert stored.raw == raw
        detail = mail_detail_of(stored, outcome, "")
    assert len(detail.subject) > 100_000 and detail.subject.startswith("disk full on db01 xxx")
    assert any("titles and lists show the first" in defect for defect in detail.defects)
    assert any("cut in Subject" in defect for defect in detail.defects)


def test_a_2000_deep_multipart_opens_an_incident_with_its_subject_and_text(database, user):
    outcome, mail_id = ingest(database, user, nested_multipart(2000))
    assert outcome == "created"
    [incident] = list_incidents(database)
    assert incident.title == "deep subject"
    with database.read() as session:
        stored = session.get(Mail, mail_id)
        assert "inner text" in stored.body_text
        assert any("nested too deep" in defect for defect in stored.defects)


def test_what_the_fuzzer_found_is_stored_on_both_backends(database, user):
    # An envelope sender with an undecodable byte (a lone surrogate) was 451 forever on both
    # backends (UnicodeEncodeError); a defect quoting 8-bit bytes carried one into the log.
    ingest(database, user, b"Subject: x\r\n\r\nbody\r\n")  # the source, and a first mail
    result = ingest_mail(
        database, b"Subject: y\r\n\r\nbody\r\n", [ADDRESS], via="smtp", envelope_from="bo\udcffx@y"
    )
    raw = b": \r\n \xc2\x80\r\nContent-Type: text/plain; charset=utf-8\r\nDISKFULL host=db01"
    quoting = ingest_mail(database, raw, [ADDRESS], via="ingest")
    with database.read() as session:
        assert session.get(Mail, result.mail_id).envelope_from == "bo\ufffdx@y"
        stored = session.get(Mail, quoting.mail_id)
    assert stored.raw == raw
    for text in stored.defects:
        text.encode("utf-8")
