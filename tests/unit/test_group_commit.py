"""Group commit (app/core/intake/pipeline.py's ingest_batch): a mail that fails is rolled
back alone and its slot holds the error, while the others of its batch commit together."""

from __future__ import annotations

from sqlalchemy import select

from app.core.intake import pipeline
from app.core.intake.mail import parse_mail
from app.core.intake.pipeline import IncomingMail, IngestResult, ingest_batch
from app.core.intake.sources import save_source
from app.core.store.models import Mail

ADDRESS = "src@alerts.example.com"


def incoming(subject: str) -> IncomingMail:
    raw = f"From: mon@mon.example.net\r\nSubject: {subject}\r\n\r\nCRITICAL\r\n".encode()
    return IncomingMail(raw, (ADDRESS,), "smtp", "mon@mon.example.net", parse_mail(raw))


def test_a_failing_mail_fails_alone_and_the_rest_of_its_batch_is_stored(
    database, user, monkeypatch
):
    save_source(database, user, {"name": "src", "address": ADDRESS, "creation": "per_email"})
    decide = pipeline.decide

    def failing_for_bad(store, spec, mail_id, parsed, earlier, now):
        if parsed.subject == "bad":
            raise RuntimeError("this mail cannot be decided")
        return decide(store, spec, mail_id, parsed, earlier, now)

    monkeypatch.setattr(pipeline, "decide", failing_for_bad)
    results = ingest_batch(database, [incoming("one"), incoming("bad"), incoming("two")])
    assert isinstance(results[1], RuntimeError)
    first, second = results[0], results[2]
    assert isinstance(first, IngestResult) and isinstance(second, IngestResult)
    assert [o.outcome for o in first.outcomes + second.outcomes] == ["created", "created"]
    with database.read() as session:
        stored = session.execute(select(Mail.id, Mail.subject).order_by(Mail.id)).all()
    assert [tuple(row) for row in stored] == [(first.mail_id, "one"), (second.mail_id, "two")]
