"""Redo a source's mails with its current rules: `mails reprocess` (SPEC §16).

A mail that is already in an incident is never redone (its incident counted it once). The
others — filtered, no_key, orphan_resolve, a loop, a duplicate of one of those — are decided
again, in mail order, by `outcomes.decide` over the ingest store, so a redone mail opens,
joins or resolves incidents as if it arrived now; its outcome row says "reprocessed" and so
does the timeline of the incident it lands in. A dry run is the same work in a transaction
that is rolled back, so what it prints is what `--apply` does. Running it twice changes
nothing the second time: every mail it moved is in an incident by then.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select, update

from app.core.incidents.lifecycle import IncidentError, record_event
from app.core.intake.mail import parse_mail
from app.core.intake.outcomes import decide
from app.core.intake.pipeline import (
    MAILS,
    OUTCOMES,
    SOURCES,
    BatchReads,
    SqlIncidentStore,
    compiled_spec,
    earlier_copies,
)
from app.core.store.db import Clock, Database, as_utc, utc_now
from app.core.users import UserView, require_current

MOST_MAILS = 5000  # in one run: one transaction holds the database's writers meanwhile


@dataclass(frozen=True)
class Reprocessed:
    """One mail: what it did when it arrived, and what it does now."""

    mail_id: int
    received_at: datetime
    subject: str
    recorded: str
    recorded_incident_id: int | None
    outcome: str
    incident_id: int | None
    reason: str
    changed: bool

    def to_json(self) -> dict:
        data = asdict(self)
        data["received_at"] = self.received_at.isoformat()
        return data


@dataclass(frozen=True)
class ReprocessReport:
    source: str
    applied: bool
    mails: tuple[Reprocessed, ...]

    @property
    def changed(self) -> int:
        return sum(mail.changed for mail in self.mails)


class _DryRun(Exception):
    def __init__(self, report: ReprocessReport) -> None:
        super().__init__("dry run")
        self.report = report


def reprocess_mails(
    database: Database,
    actor: UserView,
    source: str,
    *,
    since: datetime | None = None,
    outcome: str | None = None,
    apply: bool = False,
    clock: Clock = utc_now,
) -> ReprocessReport:
    """The source's mails (received since `since`, of the recorded `outcome`) decided again
    with its rules now; written only when `apply`. Applying needs `triage`."""
    require_current(database, actor, "triage" if apply else "view_connections")
    try:
        with database.write() as session:
            report = _reprocess(session.connection(), source, since, outcome, apply, clock)
            if not apply:
                raise _DryRun(report)  # rolls the transaction back
    except _DryRun as dry:
        return dry.report
    return report


def _reprocess(connection, source, since, outcome, apply, clock) -> ReprocessReport:
    row = connection.execute(select(SOURCES).where(SOURCES.c.name == source)).first()
    if row is None:
        names = connection.execute(select(SOURCES.c.name).order_by(SOURCES.c.name)).scalars()
        raise IncidentError(f"no source named {source!r}; the sources: {', '.join(names)}")
    query = (
        select(OUTCOMES.c.id, OUTCOMES.c.mail_id, OUTCOMES.c.outcome, OUTCOMES.c.incident_id,
               MAILS.c.received_at, MAILS.c.subject, MAILS.c.raw, MAILS.c.pruned_at)
        .join(MAILS, MAILS.c.id == OUTCOMES.c.mail_id)
        .where(OUTCOMES.c.source_id == row.id)
        .order_by(OUTCOMES.c.mail_id)
        .limit(MOST_MAILS + 1)
    )  # fmt: skip
    if since is not None:
        query = query.where(MAILS.c.received_at >= since)
    if outcome is not None:
        query = query.where(OUTCOMES.c.outcome == outcome)
    rows = connection.execute(query).all()
    if len(rows) > MOST_MAILS:
        raise IncidentError(
            f"more than {MOST_MAILS:,} mails of {source!r} match: narrow them with --since "
            "or --outcome and run it again for the rest"
        )
    spec = compiled_spec(row)
    reads = BatchReads(connection)
    store = SqlIncidentStore(connection, reads)
    done = []
    for mail in rows:
        if mail.incident_id is not None:  # counted by its incident once already
            done.append(
                Reprocessed(mail.mail_id, mail.received_at, mail.subject, mail.outcome,
                            mail.incident_id, mail.outcome, mail.incident_id,
                            f"already in incident #{mail.incident_id}: not redone", False)
            )  # fmt: skip
            continue
        if mail.pruned_at is not None:  # §17: its text is gone; deciding on nothing is wrong
            done.append(
                Reprocessed(mail.mail_id, mail.received_at, mail.subject, mail.outcome, None,
                            mail.outcome, None,
                            f"pruned on {as_utc(mail.pruned_at):%Y-%m-%d} (retention): not redone",
                            False)
            )  # fmt: skip
            continue
        now = clock()
        parsed = parse_mail(bytes(mail.raw))
        earlier = [copy for copy in earlier_copies(connection, parsed) if copy < mail.mail_id]
        store.silence = reads.silences(now).covering(row.id, parsed.subject)
        store.severity = spec.severity_for(parsed) if spec.severity_rules else None
        decided, incident_id, reason = decide(store, spec, mail.mail_id, parsed, earlier, now)
        changed = (decided, incident_id) != (mail.outcome, None)
        if changed:
            reason = f"reprocessed (was {mail.outcome}): {reason}"
            connection.execute(
                update(OUTCOMES).where(OUTCOMES.c.id == mail.id).values(
                    outcome=decided, incident_id=incident_id, reason=reason,
                    silenced_by=store.silence.id if store.silence else None,
                )
            )  # fmt: skip
            if incident_id is not None:
                record_event(
                    connection, incident_id, now, "mail",
                    f"mail {mail.mail_id} reprocessed: was {mail.outcome}, now {decided}",
                    mail_id=mail.mail_id,
                )  # fmt: skip
        done.append(
            Reprocessed(mail.mail_id, mail.received_at, mail.subject, mail.outcome, None,
                        decided, incident_id, reason, changed)
        )  # fmt: skip
    return ReprocessReport(source, apply, tuple(done))
