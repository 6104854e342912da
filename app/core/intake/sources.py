"""Alert sources: validation of their settings and rules, reading and saving them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core.addresses import AddressError, parse_address
from app.core.entries import known_table
from app.core.intake.mail import ParsedMail
from app.core.intake.rules import (
    MATCH_MODES,
    Condition,
    KeyRule,
    RuleError,
    SeverityRule,
    parse_condition,
    parse_key_rule,
    parse_severity_rule,
    severity_of,
)
from app.core.names import OPEN_STATES, SEVERITIES
from app.core.store.db import Clock, Database, utc_now
from app.core.store.models import AlertSource, EscalationPolicy, Incident, Mail, MailOutcome
from app.core.users import UserView, require_current
from app.errors import MailsirenError

CREATION_MODES = ("per_email", "per_subject", "single_pending", "single_open", "by_key")
# The seed's table, in words an operator understands.
CREATION_HELP = {
    "per_email": "Open a new incident for every email.",
    "per_subject": "One incident per subject: a mail whose subject (case and spaces ignored) "
    "matches an open incident joins it.",
    "single_pending": "Open a new incident only if every incident is accepted or resolved; "
    "else join the newest pending one.",
    "single_open": "Open a new incident only if every incident is resolved; else join the "
    "newest open one.",
    "by_key": "Open and resolve incidents by a key the key rules read from subject or body "
    "(a host and service, an alert name).",
}
ON_NO_KEY = ("drop", "subject", "new")
ON_NO_KEY_HELP = {
    "drop": "keep the mail, open nothing (outcome no_key)",
    "subject": "group it by subject instead, like per_subject",
    "new": "open a new incident for it",
}
SOURCE_KEYS = (
    "name",
    "address",
    "severity",
    "escalation_policy",
    "creation",
    "on_no_key",
    "filter_match",
    "resolve_match",
    "enabled",
    "heartbeat_minutes",
    "ack_timeout_minutes",
    "auto_resolve_minutes",
    "filter",
    "key_rule",
    "resolve_rule",
    "severity_rule",
    "title_rule",
    "sample",  # [[source.sample]]: read by config files (intake/samples.py), not a SourceSpec's
)
HEARTBEAT_MAX = 7 * 24 * 60  # a week, in minutes (SPEC §11)
TIMEOUT_MAX = 30 * 24 * 60  # 30 days, in minutes: ack_timeout_minutes, auto_resolve_minutes


class SourceError(MailsirenError, ValueError):
    """A source that cannot be saved or changed as asked; the message says why and what to do."""

    title = "Source not saved"


@dataclass(frozen=True)
class SourceSpec:
    """A validated alert source, its rules compiled; `id` is None until saved."""

    name: str
    address: str
    severity: str = "alert"
    escalation_policy: str | None = None
    creation: str = "per_email"
    on_no_key: str = "drop"
    filter_match: str = "all"
    resolve_match: str = "any"
    filters: tuple[Condition, ...] = ()
    key_rules: tuple[KeyRule, ...] = ()
    resolve_rules: tuple[Condition, ...] = ()
    enabled: bool = True
    severity_rules: tuple[SeverityRule, ...] = ()
    title_rule: KeyRule | None = None
    heartbeat_minutes: int = 0  # 0: no heartbeat
    ack_timeout_minutes: int = 0  # §14, 0: off
    auto_resolve_minutes: int = 0  # §14, 0: off
    id: int | None = field(default=None, compare=False)

    def severity_for(self, parsed: ParsedMail) -> str:
        """The severity of an incident this mail opens: the first severity rule that holds,
        else the source's severity (SPEC §12)."""
        return severity_of(self.severity_rules, parsed, self.severity)

    def title_for(self, parsed: ParsedMail) -> str | None:
        """The title the title rule reads from the mail, capped as titles are; None when
        there is no rule or it extracts nothing (the subject is the title then)."""
        return self.title_rule.title(parsed) if self.title_rule is not None else None

    def to_dict(self) -> dict:
        """The `[[source]]` table of a configuration file."""
        data: dict = {
            "name": self.name,
            "address": self.address,
            "severity": self.severity,
            "creation": self.creation,
            "on_no_key": self.on_no_key,
            "filter_match": self.filter_match,
            "resolve_match": self.resolve_match,
            "enabled": self.enabled,
        }
        if self.escalation_policy:
            data["escalation_policy"] = self.escalation_policy
        for minutes in ("heartbeat_minutes", "ack_timeout_minutes", "auto_resolve_minutes"):
            if getattr(self, minutes):
                data[minutes] = getattr(self, minutes)
        if self.filters:
            data["filter"] = [condition.to_dict() for condition in self.filters]
        if self.key_rules:
            data["key_rule"] = [rule.to_dict() for rule in self.key_rules]
        if self.resolve_rules:
            data["resolve_rule"] = [condition.to_dict() for condition in self.resolve_rules]
        if self.severity_rules:
            data["severity_rule"] = [rule.to_dict() for rule in self.severity_rules]
        if self.title_rule is not None:
            data["title_rule"] = self.title_rule.to_dict()
        return data


def check_name(name: object) -> str:
    """A source's name: 1 to 128 characters, no line breaks; returned stripped."""
    if not isinstance(name, str) or not name.strip():
        raise RuleError("name must be a non-empty string, e.g. nagios")
    name = name.strip()
    if len(name) > 128:
        raise RuleError(f"name is {len(name)} characters long; at most 128")
    if any(ch in name for ch in "\r\n\t"):
        raise RuleError("name must be one line, without tabs")
    return name


def check_address(address: object) -> str:
    """A source's address as stored: a valid address, lower-cased."""
    try:
        return parse_address(str(address or "")).lower()
    except AddressError as error:
        raise RuleError(f"address: {error}") from error


def _choice(data: dict, key: str, choices: tuple[str, ...], default: str, where: str) -> str:
    value = data.get(key, default)
    if value not in choices:
        raise RuleError(f"{where}: {key} {value!r} is not one of {', '.join(choices)}")
    return value


def _entries(data: dict, key: str, where: str) -> list:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise RuleError(f"{where}: {key} must be a list of tables ([[source.{key}]])")
    return value


def _check_minutes(value: object, where: str, most: int, span: str, what: str) -> int:
    """0 (off) or a whole number of minutes from 1 to `most` (`span` in words)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuleError(
            f"{where} must be a whole number of minutes from 1 to {most} ({span}), "
            f"or 0 for no {what}"
        )
    if value != 0 and not 1 <= value <= most:
        raise RuleError(
            f"{where} {value} is outside 1 to {most} minutes ({span}); "
            f"0 (or none) turns the {what} off"
        )
    return value


def check_timeout(value: object, where: str) -> int:
    """Minutes before an accepted incident is pending again, or an open one with no new mail
    resolves: 0 (off) or 1 to 30 days."""
    return _check_minutes(value, where, TIMEOUT_MAX, "30 days", "timeout")


def check_heartbeat(value: object, where: str = "heartbeat_minutes") -> int:
    """Minutes without mail before the heartbeat incident opens: 0 (off) or 1 to a week."""
    return _check_minutes(value, where, HEARTBEAT_MAX, "a week", "heartbeat")


def parse_source(data: object, where: str) -> SourceSpec:
    """Validate one `[[source]]`; RuleError names the entry and the key."""
    data = known_table(data, where, SOURCE_KEYS, RuleError)
    name = data.get("name")
    try:
        name = check_name(name)
    except RuleError as error:
        raise RuleError(f"{where}: {error}") from error
    where = f"{where} ({name})"
    try:
        address = check_address(data.get("address", ""))
    except RuleError as error:
        raise RuleError(f"{where}: {error}") from error
    policy = data.get("escalation_policy")
    if policy is not None and (not isinstance(policy, str) or not policy.strip()):
        raise RuleError(f"{where}: escalation_policy must be the name of a policy")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError(f"{where}: enabled must be true or false")
    creation = _choice(data, "creation", CREATION_MODES, "per_email", where)
    key_rules = tuple(
        parse_key_rule(rule, f"{where}: key_rule {index}")
        for index, rule in enumerate(_entries(data, "key_rule", where), start=1)
    )
    if creation == "by_key" and not key_rules:
        raise RuleError(f"{where}: creation 'by_key' needs at least one [[source.key_rule]]")
    title_rule = data.get("title_rule")
    if title_rule is not None:
        title_rule = parse_key_rule(title_rule, f"{where}: title_rule", reads="title")
    return SourceSpec(
        name=name,
        address=address,
        severity=_choice(data, "severity", SEVERITIES, "alert", where),
        escalation_policy=policy,
        creation=creation,
        on_no_key=_choice(data, "on_no_key", ON_NO_KEY, "drop", where),
        filter_match=_choice(data, "filter_match", MATCH_MODES, "all", where),
        resolve_match=_choice(data, "resolve_match", MATCH_MODES, "any", where),
        filters=tuple(
            parse_condition(rule, f"{where}: filter {index}")
            for index, rule in enumerate(_entries(data, "filter", where), start=1)
        ),
        key_rules=key_rules,
        resolve_rules=tuple(
            parse_condition(rule, f"{where}: resolve_rule {index}")
            for index, rule in enumerate(_entries(data, "resolve_rule", where), start=1)
        ),
        enabled=enabled,
        severity_rules=tuple(
            parse_severity_rule(rule, f"{where}: severity_rule {index}")
            for index, rule in enumerate(_entries(data, "severity_rule", where), start=1)
        ),
        title_rule=title_rule,
        heartbeat_minutes=check_heartbeat(
            data.get("heartbeat_minutes", 0), f"{where}: heartbeat_minutes"
        ),
        ack_timeout_minutes=check_timeout(
            data.get("ack_timeout_minutes", 0), f"{where}: ack_timeout_minutes"
        ),
        auto_resolve_minutes=check_timeout(
            data.get("auto_resolve_minutes", 0), f"{where}: auto_resolve_minutes"
        ),
    )


def spec_from_row(row: AlertSource) -> SourceSpec:
    data = {
        "name": row.name,
        "address": row.address,
        "severity": row.severity,
        "creation": row.creation,
        "on_no_key": row.on_no_key,
        "filter_match": row.filter_match,
        "resolve_match": row.resolve_match,
        "enabled": row.enabled,
        "filter": row.filters,
        "key_rule": row.key_rules,
        "resolve_rule": row.resolve_rules,
        "severity_rule": row.severity_rules or [],
        "heartbeat_minutes": row.heartbeat_minutes or 0,
        "ack_timeout_minutes": row.ack_timeout_minutes or 0,
        "auto_resolve_minutes": row.auto_resolve_minutes or 0,
    }
    if row.escalation_policy:
        data["escalation_policy"] = row.escalation_policy
    if row.title_rule is not None:
        data["title_rule"] = row.title_rule
    spec = parse_source(data, f"source {row.id}")
    return SourceSpec(**{**spec.__dict__, "id": row.id})


def list_sources(database: Database) -> list[SourceSpec]:
    with database.read() as session:
        rows = session.exec(select(AlertSource).order_by(AlertSource.name)).all()
        return [spec_from_row(row) for row in rows]


def write_source(
    session: Session,
    spec: SourceSpec,
    *,
    clock: Clock = utc_now,
    row: AlertSource | None = None,
) -> AlertSource:
    """Create or update (by name, or the given row when renaming), in the caller's transaction."""
    if row is None:
        row = session.exec(select(AlertSource).where(AlertSource.name == spec.name)).first()
    if row is None:
        row = AlertSource(
            name=spec.name, address=spec.address, severity=spec.severity,
            creation=spec.creation, updated_at=clock(),
        )  # fmt: skip
    data = spec.to_dict()
    row.name = spec.name
    row.address = spec.address
    row.severity = spec.severity
    row.escalation_policy = spec.escalation_policy
    row.creation = spec.creation
    row.on_no_key = spec.on_no_key
    row.filter_match = spec.filter_match
    row.resolve_match = spec.resolve_match
    row.filters = data.get("filter", [])
    row.key_rules = data.get("key_rule", [])
    row.resolve_rules = data.get("resolve_rule", [])
    row.severity_rules = data.get("severity_rule", [])
    row.title_rule = data.get("title_rule")
    row.heartbeat_minutes = spec.heartbeat_minutes
    row.ack_timeout_minutes = spec.ack_timeout_minutes
    row.auto_resolve_minutes = spec.auto_resolve_minutes
    row.enabled = spec.enabled
    row.updated_at = clock()
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class SourceSummary:
    """One line of the sources list."""

    spec: SourceSpec
    version: str  # updated_at, ISO: an editor saving over a newer version is refused
    mails_today: int
    open_incidents: int
    last_mail_at: datetime | None


def list_source_summaries(
    database: Database, actor: UserView, *, since: datetime, only: str | None = None
) -> list[SourceSummary]:
    """Every source (or the one named `only`) with its mails since `since` (the start of the
    operator's day), its open incidents and its last mail. Needs `view_connections`."""
    require_current(database, actor, "view_connections")
    with database.read() as session:
        query = select(AlertSource).order_by(AlertSource.name)
        if only is not None:
            query = query.where(AlertSource.name == only)
        rows = session.exec(query).all()
        ids = [row.id for row in rows]

        def per_source(column, value, *conditions) -> dict:
            return dict(
                session.exec(
                    select(column, value).where(col(column).in_(ids), *conditions).group_by(column)
                ).all()
            )

        outcome_mail = col(Mail.id) == MailOutcome.mail_id
        mails_today = per_source(
            MailOutcome.source_id, func.count(), outcome_mail, col(Mail.received_at) >= since
        )
        open_incidents = per_source(
            Incident.source_id, func.count(), col(Incident.state).in_(OPEN_STATES)
        )
        last_mail = per_source(MailOutcome.source_id, func.max(Mail.received_at), outcome_mail)
        return [
            SourceSummary(
                spec=spec_from_row(row),
                version=row.updated_at.isoformat(),
                mails_today=mails_today.get(row.id, 0),
                open_incidents=open_incidents.get(row.id, 0),
                last_mail_at=last_mail.get(row.id),
            )
            for row in rows
        ]


def get_source(
    database: Database, actor: UserView, name: str, *, since: datetime | None = None
) -> SourceSummary:
    """One source, as the editor opens it (its mails counted from `since`)."""
    found = list_source_summaries(database, actor, since=since or utc_now(), only=name)
    if found:
        return found[0]
    raise SourceError(f"there is no source named {name!r}; `mailsiren config export` lists them")


def save_source(
    database: Database,
    actor: UserView,
    data: dict,
    *,
    original: str | None = None,
    version: str | None = None,
    clock: Clock = utc_now,
) -> SourceSpec:
    """Create (original None) or update the source `original`, maybe renaming it, all at once.

    `data` is a `[[source]]` table, validated exactly as `config import` validates one.
    `version` is the updated_at the editor loaded: a source changed since is not overwritten.
    Needs `edit_connections`.
    """
    require_current(database, actor, "edit_connections")
    try:
        spec = parse_source(data, "source")
    except RuleError as error:
        raise SourceError(str(error)) from error
    with database.write() as session:
        row = None
        if original is not None:
            row = session.exec(select(AlertSource).where(AlertSource.name == original)).first()
            if row is None:
                raise SourceError(
                    f"the source {original!r} no longer exists (deleted meanwhile?); "
                    "nothing was saved"
                )
            if version is not None and row.updated_at.isoformat() != version:
                raise SourceError(
                    f"the source {original!r} was changed by someone else since you opened it; "
                    "nothing was saved: close the editor and open it again"
                )
        for key, value in (("name", spec.name), ("address", spec.address)):
            other = session.exec(
                select(AlertSource).where(getattr(AlertSource, key) == value)
            ).first()
            if other is not None and other is not row:
                raise SourceError(
                    f"{key} {value!r} is already used by the source {other.name!r}; "
                    f"choose another {key}"
                )
        check_policy_exists(session, spec)
        try:
            saved = write_source(session, spec, clock=clock, row=row)
        except IntegrityError as error:  # a concurrent save took the name or address
            raise SourceError(
                f"name {spec.name!r} or address {spec.address!r} was just taken; nothing saved"
            ) from error
        return SourceSpec(**{**spec.__dict__, "id": saved.id})


def check_policy_exists(session: Session, spec: SourceSpec, also: Iterable[str] = ()) -> None:
    """A source may name only an escalation policy that exists (or is being imported)."""
    wanted = spec.escalation_policy
    if wanted is None or wanted in also:
        return
    if session.exec(select(EscalationPolicy.id).where(EscalationPolicy.name == wanted)).first():
        return
    raise SourceError(
        f"source {spec.name}: escalation_policy {wanted!r} does not exist; create it first "
        "(Integrations screen, or [[escalation_policy]] in the configuration file)"
    )


def set_source_enabled(
    database: Database, actor: UserView, name: str, enabled: bool, *, clock: Clock = utc_now
) -> None:
    """A disabled source keeps its rules and incidents; its address answers 550. Needs
    `edit_connections`."""
    require_current(database, actor, "edit_connections")
    with database.write() as session:
        row = _existing(session, name)
        row.enabled = enabled
        row.updated_at = clock()
        session.add(row)


@dataclass(frozen=True)
class DeletionImpact:
    """What deleting a source takes with it, for the confirmation question."""

    incidents: int
    mails: int


def deletion_impact(database: Database, name: str) -> DeletionImpact:
    with database.read() as session:
        row = _existing(session, name)
        incidents = session.exec(
            select(func.count()).select_from(Incident).where(Incident.source_id == row.id)
        ).one()
        mails = session.exec(
            select(func.count()).select_from(MailOutcome).where(MailOutcome.source_id == row.id)
        ).one()
    return DeletionImpact(incidents, mails)


def delete_source(database: Database, actor: UserView, name: str) -> None:
    """Delete the source, its incidents and its mails' outcomes; the mails stay stored.
    Needs `delete_connections`."""
    require_current(database, actor, "delete_connections")
    with database.write() as session:
        session.delete(_existing(session, name))


def _existing(session: Session, name: str) -> AlertSource:
    row = session.exec(select(AlertSource).where(AlertSource.name == name)).first()
    if row is None:
        raise SourceError(f"there is no source named {name!r} (deleted meanwhile?)")
    return row
