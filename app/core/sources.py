"""Alert sources: validation of their settings and rules, reading and saving them."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from app.core.addresses import AddressError, parse_address
from app.core.db import Clock, Database, utc_now
from app.core.models import AlertSource
from app.core.names import SEVERITIES
from app.core.rules import (
    MATCH_MODES,
    Condition,
    KeyRule,
    RuleError,
    parse_condition,
    parse_key_rule,
)

CREATION_MODES = ("per_email", "per_subject", "single_pending", "single_open", "by_key")
ON_NO_KEY = ("drop", "subject", "new")
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
    "filter",
    "key_rule",
    "resolve_rule",
)


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
    id: int | None = field(default=None, compare=False)

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
        if self.filters:
            data["filter"] = [condition.to_dict() for condition in self.filters]
        if self.key_rules:
            data["key_rule"] = [rule.to_dict() for rule in self.key_rules]
        if self.resolve_rules:
            data["resolve_rule"] = [condition.to_dict() for condition in self.resolve_rules]
        return data


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


def parse_source(data: object, where: str) -> SourceSpec:
    """Validate one `[[source]]`; RuleError names the entry and the key."""
    if not isinstance(data, dict):
        raise RuleError(f"{where}: must be a table")
    unknown = sorted(set(data) - set(SOURCE_KEYS))
    if unknown:
        raise RuleError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(SOURCE_KEYS)}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise RuleError(f"{where}: name must be a non-empty string (at most 128 characters)")
    where = f"{where} ({name})"
    try:
        address = parse_address(str(data.get("address", ""))).lower()
    except AddressError as error:
        raise RuleError(f"{where}: address: {error}") from error
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
    return SourceSpec(
        name=name.strip(),
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
    }
    if row.escalation_policy:
        data["escalation_policy"] = row.escalation_policy
    spec = parse_source(data, f"source {row.id}")
    return SourceSpec(**{**spec.__dict__, "id": row.id})


def list_sources(database: Database) -> list[SourceSpec]:
    with database.read() as session:
        rows = session.exec(select(AlertSource).order_by(AlertSource.name)).all()
        return [spec_from_row(row) for row in rows]


def write_source(session: Session, spec: SourceSpec, *, clock: Clock = utc_now) -> AlertSource:
    """Create or update by name, inside the caller's transaction."""
    row = session.exec(select(AlertSource).where(AlertSource.name == spec.name)).first()
    if row is None:
        row = AlertSource(
            name=spec.name, address=spec.address, severity=spec.severity,
            creation=spec.creation, updated_at=clock(),
        )  # fmt: skip
    data = spec.to_dict()
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
    row.enabled = spec.enabled
    row.updated_at = clock()
    session.add(row)
    session.flush()
    return row
