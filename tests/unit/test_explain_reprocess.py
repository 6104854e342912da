"""`mails explain` and `mails reprocess` in the core (SPEC §16), on both backends: every step
with the value it compared, recorded against now; a dry run writes nothing, --apply redoes
the mails in no incident in mail order, and a second run changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.core.incidents.lifecycle import IncidentError
from app.core.intake.explain import explain_mail
from app.core.intake.pipeline import ingest_mail
from app.core.intake.reprocess import reprocess_mails
from app.core.intake.sources import save_source
from app.core.store.models import Delivery, Incident, MailOutcome, TimelineEvent
from app.core.users import PermissionDenied, add_user
from tests.clock import T0, Clock
from tests.mails import SOURCE, alert_mail

NAGIOS = {
    "name": "nagios", "address": SOURCE, "creation": "by_key",
    "filter": [{"field": "subject", "op": "matches", "value": r"\b(PROBLEM|RECOVERY)\b"}],
    "key_rule": [{"field": "subject", "extractor": "regex", "pattern": r"Alert: (\S+) is"}],
    "resolve_rule": [{"field": "subject", "op": "contains", "value": "RECOVERY"}],
}  # fmt: skip
WARN_TOO = {**NAGIOS, "filter": [{"field": "subject", "op": "matches",
                                  "value": r"\b(PROBLEM|RECOVERY|WARN)\b"}]}  # fmt: skip


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def nagios(database, user, clock):
    save_source(database, user, NAGIOS, clock=clock)


def mail(database, clock, subject: str) -> int:
    result = ingest_mail(database, alert_mail(subject), [SOURCE], via="smtp", clock=clock)
    clock.advance(minutes=1)
    return result.mail_id


def counts(database) -> tuple[int, int, int]:
    with database.read() as session:
        return tuple(
            session.exec(select(func.count()).select_from(table)).one()
            for table in (Incident, TimelineEvent, Delivery)
        )  # fmt: skip


def test_explain_shows_each_step_its_value_and_span_and_recorded_against_now(
    database, user, nagios, clock
):
    filtered = mail(database, clock, "** WARN Alert: web02/Load is WARNING **")
    [nagios_explained] = explain_mail(database, filtered, clock=clock)
    steps = {step.step: step for step in nagios_explained.steps}
    assert steps["loop"].result == "false"
    assert steps["filter 1"].result == "false"
    assert steps["filter 1"].value == "** WARN Alert: web02/Load is WARNING **"
    key = steps["key_rule 1"]
    assert key.result == "'web02/Load'" and key.span == (8, 28)
    assert key.value[key.span[0] : key.span[1]] == "Alert: web02/Load is"
    assert nagios_explained.recorded.outcome == "filtered"
    assert nagios_explained.now.outcome == "filtered" and not nagios_explained.differs


def test_explain_now_uses_the_rules_as_they_are_and_not_the_mails_own_incident(
    database, user, nagios, clock
):
    opened = mail(database, clock, "** PROBLEM Alert: web01/Disk is CRITICAL **")
    filtered = mail(database, clock, "** WARN Alert: web02/Load is WARNING **")
    [explained] = explain_mail(database, opened, clock=clock)
    assert explained.recorded.outcome == "created"
    assert explained.now.outcome == "created" and explained.now.incident_id is None
    _resave(database, user, WARN_TOO, clock)
    [now] = explain_mail(database, filtered, clock=clock)
    assert (now.recorded.outcome, now.now.outcome) == ("filtered", "created") and now.differs
    before = counts(database)
    explain_mail(database, filtered, clock=clock)
    assert counts(database) == before  # explain writes nothing


def test_explain_refuses_an_unknown_mail_or_source(database, user, nagios, clock):
    with pytest.raises(IncidentError, match="no mail 9"):
        explain_mail(database, 9, clock=clock)
    first = mail(database, clock, "** PROBLEM Alert: web01/Disk is CRITICAL **")
    with pytest.raises(IncidentError, match="no source named 'zabix'; the sources: nagios"):
        explain_mail(database, first, source="zabix", clock=clock)


def test_reprocess_dry_run_then_apply_in_mail_order_and_twice_changes_nothing(
    database, user, nagios, clock
):
    mail(database, clock, "** PROBLEM Alert: web01/Disk is CRITICAL **")
    first = mail(database, clock, "** WARN Alert: web02/Load is WARNING **")
    second = mail(database, clock, "** WARN Alert: web02/Load is WARNING **")
    _resave(database, user, WARN_TOO, clock)
    before = counts(database)
    dry = reprocess_mails(database, user, "nagios", clock=clock)
    assert not dry.applied and dry.changed == 2
    verdicts = {item.mail_id: (item.outcome, item.changed) for item in dry.mails}
    assert verdicts[first] == ("created", True) and verdicts[second] == ("appended", True)
    assert counts(database) == before  # the dry run was rolled back

    applied = reprocess_mails(database, user, "nagios", apply=True, clock=clock)
    assert applied.changed == 2
    incident = next(item.incident_id for item in applied.mails if item.mail_id == first)
    assert next(i.incident_id for i in applied.mails if i.mail_id == second) == incident
    with database.read() as session:
        row = session.get(Incident, incident)
        assert row.mail_count == 2 and row.key == "web02/Load"
        outcome = session.exec(select(MailOutcome).where(MailOutcome.mail_id == first)).scalar_one()
        assert outcome.outcome == "created" and "reprocessed (was filtered)" in outcome.reason
        timeline = (
            session.exec(select(TimelineEvent.detail).where(TimelineEvent.incident_id == incident))
            .scalars()
            .all()
        )
    assert any("reprocessed: was filtered, now created" in line for line in timeline)
    after = counts(database)
    again = reprocess_mails(database, user, "nagios", apply=True, clock=clock)
    assert again.changed == 0 and counts(database) == after


def test_reprocess_selects_by_outcome_and_since_and_needs_triage_to_apply(
    database, user, nagios, clock
):
    mail(database, clock, "** WARN Alert: old/Load is WARNING **")
    clock.advance(hours=3)
    recent = mail(database, clock, "** WARN Alert: new/Load is WARNING **")
    mail(database, clock, "** PROBLEM Alert: web01/Disk is CRITICAL **")
    _resave(database, user, WARN_TOO, clock)
    report = reprocess_mails(
        database, user, "nagios", since=clock() - timedelta(hours=1),
        outcome="filtered", clock=clock,
    )  # fmt: skip
    assert [item.mail_id for item in report.mails] == [recent]
    viewer = add_user(database, user, "bob", email=None, permissions=("view_connections",))
    assert reprocess_mails(database, viewer, "nagios", clock=clock).changed == 2  # a dry run
    with pytest.raises(PermissionDenied):
        reprocess_mails(database, viewer, "nagios", apply=True, clock=clock)
    with pytest.raises(IncidentError, match="no source named 'zabix'"):
        reprocess_mails(database, user, "zabix", clock=clock)


def _resave(database, user, data: dict, clock) -> None:
    from app.core.intake.sources import get_source

    version = get_source(database, user, "nagios").version
    save_source(database, user, data, original="nagios", version=version, clock=clock)
