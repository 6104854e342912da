"""Why a mail got its outcome: every step of the decision for a source, recorded and now.

`mails explain` (SPEC §16). The steps are the ones `outcomes.decide` takes, in its order,
each with the value it compared and its result; the outcome "now" is `decide` itself, run
with the source's current rules over the database as it is, read-only, as if the mail
arrived again now (the incident it opened itself is not there to join).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import bindparam, select

from app.core.incidents.lifecycle import IncidentError
from app.core.intake.mail import ParsedMail, parse_mail
from app.core.intake.outcomes import decide, loop_reason, replied_to, reply_to_us
from app.core.intake.pipeline import (
    INCIDENTS,
    MAILS,
    NEWEST_OPEN,
    NEWEST_PENDING,
    OPEN_WITH_KEY,
    OPEN_WITH_SUBJECT,
    OUTCOMES,
    SOURCES,
    BatchReads,
    SqlIncidentStore,
    compiled_spec,
    earlier_copies,
)
from app.core.intake.rules import Condition, field_text, subject_key
from app.core.intake.sources import SourceSpec
from app.core.store.db import Clock, Database, as_utc, utc_now

VALUE_SHOWN = 160  # characters of a compared value shown around what matters
NOT_THIS = INCIDENTS.c.id != bindparam("not_this")


@dataclass(frozen=True)
class Step:
    """One step of the decision: what was looked at, and what it gave."""

    step: str  # "loop", "filter 1", "key_rule 2", …
    result: str  # "true"/"false", "none", a key, a severity…
    detail: str  # the rule, in words
    value: str | None = None  # the text compared (cut to VALUE_SHOWN around a match)
    span: tuple[int, int] | None = None  # where in the field's text a key rule matched


@dataclass(frozen=True)
class Outcome:
    outcome: str
    incident_id: int | None
    reason: str


@dataclass(frozen=True)
class SourceExplanation:
    source: str
    steps: tuple[Step, ...]
    recorded: Outcome | None  # None: the mail was never decided for this source
    now: Outcome

    @property
    def differs(self) -> bool:
        return self.recorded is None or (self.recorded.outcome, self.recorded.incident_id) != (
            self.now.outcome,
            self.now.incident_id,
        )

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "steps": [asdict(step) for step in self.steps],
            "recorded": asdict(self.recorded) if self.recorded else None,
            "now": asdict(self.now),
            "differs": self.differs,
        }


def explain_mail(
    database: Database, mail_id: int, *, source: str | None = None, clock: Clock = utc_now
) -> list[SourceExplanation]:
    """The explanation for every source the mail was decided for (or the one named)."""
    with database.read() as session:
        connection = session.connection()
        mail = connection.execute(
            select(MAILS.c.raw, MAILS.c.pruned_at).where(MAILS.c.id == mail_id)
        ).first()
        if mail is None:
            raise IncidentError(f"no mail {mail_id}; `mailsiren mails list` shows their ids")
        if mail.pruned_at is not None:
            raise IncidentError(
                f"mail {mail_id} was pruned on {as_utc(mail.pruned_at):%Y-%m-%d} (retention): "
                "its text is gone, so no rule can be explained on it"
            )
        raw = mail.raw
        recorded = {
            row.source_id: Outcome(row.outcome, row.incident_id, row.reason)
            for row in connection.execute(
                select(OUTCOMES).where(
                    OUTCOMES.c.mail_id == mail_id, OUTCOMES.c.source_id.is_not(None)
                )
            )
        }
        query = select(SOURCES).order_by(SOURCES.c.name)
        if source is not None:
            query = query.where(SOURCES.c.name == source)
        else:
            query = query.where(SOURCES.c.id.in_(list(recorded)))
        rows = connection.execute(query).all()
        if source is not None and not rows:
            names = connection.execute(select(SOURCES.c.name).order_by(SOURCES.c.name)).scalars()
            raise IncidentError(f"no source named {source!r}; the sources: {', '.join(names)}")
        parsed = parse_mail(bytes(raw))
        earlier = [copy for copy in earlier_copies(connection, parsed) if copy < mail_id]
        explained = []
        for row in rows:
            spec = compiled_spec(row)
            was = recorded.get(row.id)
            opened = was.incident_id if was is not None and was.outcome == "created" else None
            store = ReadOnlyStore(connection, opened)
            steps = explain_steps(store, spec, parsed, earlier)
            outcome, incident_id, reason = decide(store, spec, mail_id, parsed, earlier, clock())
            if outcome == "created":
                reason += " (a new incident: nothing is written by explain)"
            explained.append(
                SourceExplanation(
                    spec.name, tuple(steps), was, Outcome(outcome, incident_id, reason)
                )
            )
    return explained


def explain_steps(
    store: SqlIncidentStore, spec: SourceSpec, parsed: ParsedMail, earlier: list[int]
) -> list[Step]:
    """decide's steps in its order, each whatever came before it (a filtered mail's key
    rules are shown too: what they would read is half of "why")."""
    original = store.first_outcome(spec.id, earlier) if earlier else None
    steps = [
        Step("copies", "duplicate" if original else "first copy",
             f"an earlier copy with the same bytes and Message-ID: mail {original[0]}"
             if original else "no earlier copy with the same bytes and Message-ID"),
    ]  # fmt: skip
    loop = loop_reason(parsed) or reply_to_us(store, parsed)
    steps.append(
        Step("loop", "true" if loop else "false",
             loop or "not an automatic reply, not a notification of ours or a reply to one")
    )  # fmt: skip
    replied = replied_to(store, spec, parsed)
    steps.append(
        Step("reply", f"#{replied[1]}" if replied else "none",
             f"In-Reply-To/References name mail {replied[0]} of incident #{replied[1]}"
             if replied else "no In-Reply-To/References names a mail of this source's incidents")
    )  # fmt: skip
    steps += _conditions("filter", spec.filters, spec.filter_match, parsed)
    steps += _conditions("resolve_rule", spec.resolve_rules, spec.resolve_match, parsed)
    for index, rule in enumerate(spec.key_rules, start=1):
        located = rule.locate(parsed)
        key = rule.extract(parsed)
        text = field_text(parsed, rule.field)
        span = located[1:] if located is not None else None
        steps.append(
            Step(f"key_rule {index}", repr(key) if key is not None else "none", rule.describe(),
                 _around(text, span), span)
        )  # fmt: skip
    for index, rule in enumerate(spec.severity_rules, start=1):
        holds = rule.holds(parsed)
        steps.append(
            Step(f"severity_rule {index}", "true" if holds else "false", rule.describe(),
                 _around(field_text(parsed, rule.condition.field), None))
        )  # fmt: skip
    steps.append(
        Step("severity", spec.severity_for(parsed),
             "the first severity rule that holds" if spec.severity_rules
             else "the source's severity (no severity rules)")
    )  # fmt: skip
    if spec.title_rule is not None:
        title = spec.title_for(parsed)
        steps.append(
            Step("title_rule", repr(title) if title else "none", spec.title_rule.describe(),
                 _around(field_text(parsed, spec.title_rule.field), None))
        )  # fmt: skip
    steps.append(Step("creation", spec.creation, _creation(spec, parsed)))
    return steps


def _conditions(
    name: str, conditions: tuple[Condition, ...], match: str, parsed: ParsedMail
) -> list[Step]:
    steps = []
    for index, condition in enumerate(conditions, start=1):
        holds = condition.holds(parsed)
        steps.append(
            Step(f"{name} {index}", "true" if holds else "false",
                 f"{condition.describe()} (match {match})",
                 _around(field_text(parsed, condition.field), None))
        )  # fmt: skip
    return steps


def _creation(spec: SourceSpec, parsed: ParsedMail) -> str:
    if spec.creation == "by_key":
        return f"by_key: one incident per key (no key: on_no_key = {spec.on_no_key})"
    if spec.creation == "per_subject":
        return f"per_subject: one incident per subject key {subject_key(parsed.subject)!r}"
    return spec.creation.replace("_", " ")


def _around(text: str, span: tuple[int, int] | None) -> str:
    """The compared text, cut to VALUE_SHOWN characters around the span (or from its start)."""
    if len(text) <= VALUE_SHOWN:
        return text
    start = 0 if span is None else max(0, min(span[0] - 40, len(text) - VALUE_SHOWN))
    cut = text[start : start + VALUE_SHOWN]
    return ("…" if start else "") + cut + ("…" if start + VALUE_SHOWN < len(text) else "")


class ReadOnlyStore(SqlIncidentStore):
    """The ingest store's lookups on a read transaction, without the incident the mail
    opened itself; its writes do nothing."""

    def __init__(self, connection, not_this: int | None) -> None:
        reads = BatchReads(connection)
        reads.locks_rows = False  # a read: no turn to take
        super().__init__(connection, reads)
        self.not_this = -1 if not_this is None else not_this

    def _first(self, query, **parameters):
        parameters["not_this"] = self.not_this
        return self.connection.execute(query.where(NOT_THIS), parameters).scalar()

    def open_with_key(self, source_id, key):
        return self._first(OPEN_WITH_KEY, source=source_id, key=key)

    def open_with_subject(self, source_id, subject):
        return self._first(OPEN_WITH_SUBJECT, source=source_id, subject_key=subject)

    def newest_pending(self, source_id):
        return self._first(NEWEST_PENDING, source=source_id)

    def newest_open(self, source_id):
        return self._first(NEWEST_OPEN, source=source_id)

    def thread(self, incident_id, mail_id, now):
        pass

    def append(self, incident_id, mail_id, now):
        pass

    def resolve(self, incident_id, mail_id, now):
        pass

    def create(self, spec, parsed, key, mail_id, now):
        return None
