"""The pipeline: one mail, its outcome for every source and the incident changes, one commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.core.db import Clock, Database, utc_now
from app.core.mail import ParsedMail, parse_mail
from app.core.models import AlertSource, Incident, Mail, MailOutcome, TimelineEvent
from app.core.rules import conditions_hold, extract_key, first_failure, subject_key
from app.core.sources import SourceSpec, spec_from_row

OUTCOMES = (
    "created",
    "appended",
    "resolved",
    "filtered",
    "orphan_resolve",
    "no_key",
    "loop",
    "duplicate",
    "rejected",
)
OPEN_STATES = ("pending", "accepted")
EMAIL_ACTOR = "email"


@dataclass(frozen=True)
class SourceOutcome:
    source: str
    outcome: str
    incident_id: int | None
    reason: str


@dataclass(frozen=True)
class IngestResult:
    mail_id: int | None  # None: no enabled source for any recipient, nothing stored
    outcomes: tuple[SourceOutcome, ...]

    @property
    def stored(self) -> bool:
        return self.mail_id is not None


def enabled_addresses(database: Database, addresses: list[str]) -> set[str]:
    """Which of these addresses (any case) belong to an enabled source, lower-cased."""
    lowered = {address.lower() for address in addresses}
    with database.read() as session:
        found = session.exec(
            select(AlertSource.address).where(
                col(AlertSource.address).in_(lowered),
                AlertSource.enabled == True,  # noqa: E712
            )
        ).all()
    return set(found)


def ingest_mail(
    database: Database,
    raw: bytes,
    recipients: list[str],
    *,
    via: str,
    envelope_from: str | None = None,
    clock: Clock = utc_now,
    parsed: ParsedMail | None = None,
) -> IngestResult:
    """Store the mail and apply every matching source's rules, all in one transaction.

    Returns only after the commit (SQLite synchronous=FULL): a caller may then say 250.
    """
    parsed = parsed or parse_mail(raw)
    lowered = sorted({address.lower() for address in recipients})
    with database.write() as session:
        rows = session.exec(
            select(AlertSource)
            .where(col(AlertSource.address).in_(lowered), AlertSource.enabled == True)  # noqa: E712
            .order_by(AlertSource.name)
        ).all()
        if not rows:
            return IngestResult(None, ())
        now = clock()
        mail = Mail(
            received_at=now,
            via=via,
            envelope_from=envelope_from,
            envelope_to=lowered,
            message_id=parsed.message_id,
            raw_sha256=parsed.sha256,
            size=parsed.size,
            subject=parsed.subject,
            from_header=parsed.from_,
            defects=list(parsed.defects),
            raw=raw,
        )
        session.add(mail)
        session.flush()
        outcomes = []
        for row in rows:
            spec = _compiled(row.id, row.updated_at.isoformat(), row)
            outcome, incident_id, reason = _process(session, spec, mail, parsed, now)
            session.add(
                MailOutcome(
                    mail_id=mail.id,  # type: ignore[arg-type]
                    source_id=row.id,  # type: ignore[arg-type]
                    outcome=outcome,
                    incident_id=incident_id,
                    reason=reason,
                )
            )
            outcomes.append(SourceOutcome(spec.name, outcome, incident_id, reason))
        return IngestResult(mail.id, tuple(outcomes))


_compiled_sources: dict[tuple[int | None, str], SourceSpec] = {}


def _compiled(source_id: int | None, version: str, row: AlertSource) -> SourceSpec:
    """A source's rules compiled once per version (its id and updated_at)."""
    key = (source_id, version)
    spec = _compiled_sources.get(key)
    if spec is None:
        if len(_compiled_sources) > 1024:
            _compiled_sources.clear()
        spec = _compiled_sources[key] = spec_from_row(row)
    return spec


def _process(
    session: Session, spec: SourceSpec, mail: Mail, parsed: ParsedMail, now: datetime
) -> tuple[str, int | None, str]:
    original = _earlier_copy(session, spec, mail)
    if original is not None:
        return "duplicate", original.incident_id, f"already received as mail {original.mail_id}"
    loop = loop_reason(parsed)
    if loop:
        return "loop", None, loop
    failed = first_failure(spec.filters, spec.filter_match, parsed)
    if failed:
        return "filtered", None, failed
    resolving = conditions_hold(spec.resolve_rules, spec.resolve_match, parsed)
    key, target, how = _find_target(session, spec, parsed)
    if how == "no_key":
        rules = "; ".join(rule.describe() for rule in spec.key_rules)
        return "no_key", None, f"no key rule extracted a key ({rules})"
    if resolving:
        if target is None:
            wanted = f" with key {key!r}" if key else ""
            return "orphan_resolve", None, f"resolve rule held, but no open incident{wanted}"
        _append(session, target, mail, now)
        target.state = "resolved"
        target.resolved_by = EMAIL_ACTOR
        target.resolved_at = now
        _event(session, target, now, "resolved", EMAIL_ACTOR, mail, "resolved by a recovery mail")
        return "resolved", target.id, "resolve rule held"
    if target is not None:
        _append(session, target, mail, now)
        return "appended", target.id, how
    incident = Incident(
        source_id=spec.id,  # type: ignore[arg-type]
        state="pending",
        severity=spec.severity,
        title=parsed.subject or "(no subject)",
        key=key,
        subject_key=subject_key(parsed.subject),
        mail_count=1,
        created_at=now,
        updated_at=now,
    )
    session.add(incident)
    session.flush()
    _event(session, incident, now, "created", None, mail, f"opened by mail {mail.id}")
    return "created", incident.id, f"new incident{f' with key {key!r}' if key else ''}"


def _find_target(
    session: Session, spec: SourceSpec, parsed: ParsedMail
) -> tuple[str | None, Incident | None, str]:
    """The key (by_key), the open incident this mail belongs to, and why."""
    query = select(Incident).where(Incident.source_id == spec.id)
    newest = col(Incident.updated_at).desc(), col(Incident.id).desc()
    if spec.creation == "by_key":
        extracted = extract_key(spec.key_rules, parsed)
        if extracted is not None:
            key, rule = extracted
            reason = f"same key {key!r} ({rule.describe()})"
        elif spec.on_no_key == "subject":
            key, reason = subject_key(parsed.subject), "no key extracted: same subject"
        elif spec.on_no_key == "new":
            return None, None, "no key extracted: a new incident"
        else:
            return None, None, "no_key"
        target = session.exec(
            query.where(Incident.key == key, col(Incident.state).in_(OPEN_STATES))
        ).first()
        return key, target, reason
    if spec.creation == "per_subject":
        query = query.where(
            Incident.subject_key == subject_key(parsed.subject),
            col(Incident.state).in_(OPEN_STATES),
        )
        return None, session.exec(query.order_by(*newest)).first(), "same subject"
    if spec.creation == "single_pending":
        query = query.where(Incident.state == "pending")
        return None, session.exec(query.order_by(*newest)).first(), "the pending incident"
    if spec.creation == "single_open":
        query = query.where(col(Incident.state).in_(OPEN_STATES))
        return None, session.exec(query.order_by(*newest)).first(), "the open incident"
    return None, None, "every mail opens an incident"


def _earlier_copy(session: Session, spec: SourceSpec, mail: Mail) -> MailOutcome | None:
    """The first outcome of the same bytes (and Message-ID) for this source, if any."""
    query = (
        select(MailOutcome)
        .join(Mail, col(Mail.id) == MailOutcome.mail_id)
        .where(
            MailOutcome.source_id == spec.id,
            Mail.raw_sha256 == mail.raw_sha256,
            Mail.id != mail.id,
            MailOutcome.outcome != "duplicate",
        )
    )
    if mail.message_id is None:
        query = query.where(col(Mail.message_id).is_(None))
    else:
        query = query.where(Mail.message_id == mail.message_id)
    return session.exec(query.order_by(col(MailOutcome.id))).first()


def loop_reason(parsed: ParsedMail) -> str | None:
    """An automatic reply (RFC 3834 and the usual vendor headers) is never an alert."""
    submitted = parsed.header("auto-submitted").lower()
    if submitted.startswith("auto-replied"):
        return f"Auto-Submitted: {parsed.header('auto-submitted')}: an automatic reply"
    if "x-autoreply" in parsed.headers:
        return "X-Autoreply header: an automatic reply"
    if parsed.header("precedence").lower() == "auto_reply":
        return "Precedence: auto_reply: an automatic reply"
    return None


def _append(session: Session, incident: Incident, mail: Mail, now: datetime) -> None:
    incident.mail_count += 1
    incident.updated_at = now
    session.add(incident)
    _event(session, incident, now, "mail", None, mail, f"mail {mail.id} appended")


def _event(
    session: Session,
    incident: Incident,
    now: datetime,
    kind: str,
    actor: str | None,
    mail: Mail | None,
    detail: str,
) -> None:
    session.add(
        TimelineEvent(
            incident_id=incident.id,  # type: ignore[arg-type]
            at=now,
            kind=kind,
            actor=actor,
            mail_id=mail.id if mail else None,
            detail=detail,
        )
    )


def count_mails(database: Database) -> int:
    with database.read() as session:
        return session.exec(select(func.count()).select_from(Mail)).one()
