"""Configuration as code (SPEC §7): export to TOML, import validated whole before any change."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field

import tomli_w
from sqlmodel import col, delete, select

from app.core.incidents.escalation import PolicySpec, list_policies, parse_policy, write_policy
from app.core.intake.sources import (
    SourceSpec,
    check_policy_exists,
    list_sources,
    parse_source,
    write_source,
)
from app.core.notifications.integrations import (
    IntegrationSpec,
    concerns_about,
    integration_specs,
    parse_integration,
    write_integration,
)
from app.core.notifications.org import OrgView, load_org, parse_org, write_org
from app.core.store.db import Database, utc_now
from app.core.store.models import AlertSource, EscalationPolicy, Integration
from app.core.store.secrets import normalise_address
from app.core.users import UserView, require_current
from app.errors import MailsirenError

SECTIONS = ("org", "user", "escalation_policy", "source", "integration")
NOT_YET = ("user",)


class ConfigFileError(MailsirenError, ValueError):
    """The file cannot be imported; the message names the entry and key. Nothing changed."""

    title = "Configuration not imported"


@dataclass(frozen=True)
class ParsedConfig:
    org: OrgView | None = None
    policies: tuple[PolicySpec, ...] = ()
    sources: tuple[SourceSpec, ...] = ()
    integrations: tuple[IntegrationSpec, ...] = ()
    ignored: tuple[str, ...] = ()  # sections this version does not manage from a file


@dataclass(frozen=True)
class ImportReport:
    created: tuple[str, ...]
    updated: tuple[str, ...]
    pruned: tuple[str, ...]
    ignored: tuple[str, ...]  # sections this version does not manage yet
    warnings: tuple[str, ...] = field(default=())


def export_config(database: Database) -> str:
    """Everything but users, as TOML. Never a password, never the shared SMTP configuration."""
    document: dict = {"org": load_org(database).to_dict()}
    policies = [view.spec.to_dict() for view in list_policies(database)]
    if policies:
        document["escalation_policy"] = policies
    document["source"] = [spec.to_dict() for spec in list_sources(database)]
    integrations = [spec.to_dict() for spec in integration_specs(database)]
    if integrations:
        document["integration"] = integrations
    return tomli_w.dumps(document, multiline_strings=False)


def _tables(document: dict, key: str, origin: str) -> list:
    entries = document.get(key, [])
    if not isinstance(entries, list):
        raise ConfigFileError(f"{origin}: {key} entries are [[{key}]] tables")
    return entries


def _unique(items, key: str, section: str) -> None:
    seen: dict[str, int] = {}
    for index, item in enumerate(items, start=1):
        value = getattr(item, key)
        if value in seen:
            raise ConfigFileError(
                f"[[{section}]] {index}: {key} {value!r} is already used by [[{section}]] "
                f"{seen[value]}"
            )
        seen[value] = index


def parse_config(text: str, origin: str = "the file") -> ParsedConfig:
    """Every entry validated; ConfigFileError on the first wrong one."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigFileError(f"{origin} is not valid TOML: {error}") from error
    unknown = sorted(set(document) - set(SECTIONS))
    if unknown:
        raise ConfigFileError(
            f"{origin}: unknown section [{unknown[0]}]; known: {', '.join(SECTIONS)}"
        )
    try:
        org = parse_org(document["org"]) if "org" in document else None
        policies = tuple(
            parse_policy(entry, f"[[escalation_policy]] {index}")
            for index, entry in enumerate(_tables(document, "escalation_policy", origin), 1)
        )
        sources = tuple(
            parse_source(entry, f"[[source]] {index}")
            for index, entry in enumerate(_tables(document, "source", origin), 1)
        )
        integrations = tuple(
            parse_integration(entry, f"[[integration]] {index}")
            for index, entry in enumerate(_tables(document, "integration", origin), 1)
        )
    except ValueError as error:  # RuleError and every entry's own error are ValueErrors
        raise ConfigFileError(str(error)) from error
    _unique(policies, "name", "escalation_policy")
    _unique(sources, "name", "source")
    _unique(sources, "address", "source")
    _unique(integrations, "address", "integration")
    ignored = tuple(section for section in NOT_YET if section in document)
    return ParsedConfig(org, policies, sources, integrations, ignored)


def import_config(
    database: Database, actor: UserView, text: str, *, prune: bool = False, origin: str = ""
) -> ImportReport:
    """Create or update by name (integrations by address) in one transaction.

    --prune deletes the sources, policies and integrations the file does not name.
    """
    require_current(database, actor, "edit_connections")
    if prune:
        require_current(database, actor, "delete_connections")
    parsed = parse_config(text, origin or "the file")
    if parsed.org is not None and parsed.org != load_org(database):
        require_current(database, actor, "admin")
    org = parsed.org or load_org(database)
    warnings = tuple(
        concern
        for spec in parsed.integrations
        for concern in concerns_about(database, spec, ignore_duplicates=True, org=org)
    )
    created: list[str] = []
    updated: list[str] = []
    pruned: list[str] = []
    now = utc_now()
    try:
        with database.write() as session:
            if parsed.org is not None:
                write_org(session, parsed.org, now)
            existing_policies = set(session.exec(select(EscalationPolicy.name)).all())
            for policy in parsed.policies:
                known = policy.name in existing_policies
                (updated if known else created).append(f"escalation_policy {policy.name}")
                write_policy(session, policy, actor, now)
            _import_sources(session, parsed, prune, created, updated, pruned)
            if prune:
                wanted = {policy.name for policy in parsed.policies}
                for name in sorted(existing_policies - wanted):
                    users = session.exec(
                        select(AlertSource.name).where(AlertSource.escalation_policy == name)
                    ).all()
                    if users:
                        raise ConfigFileError(
                            f"--prune would delete the escalation policy {name}, which the "
                            f"sources {', '.join(users)} use; nothing was imported"
                        )
                    session.exec(delete(EscalationPolicy).where(EscalationPolicy.name == name))
                    pruned.append(f"escalation_policy {name}")
            _import_integrations(
                session, database, parsed, actor, now, prune, created, updated, pruned
            )
    except ValueError as error:  # RuleError and every entry's own error are ValueErrors
        if isinstance(error, ConfigFileError):
            raise
        raise ConfigFileError(f"{error}; nothing was imported") from error
    return ImportReport(tuple(created), tuple(updated), tuple(pruned), parsed.ignored, warnings)


def _import_sources(session, parsed: ParsedConfig, prune: bool, created, updated, pruned) -> None:
    specs = parsed.sources
    names = {spec.name for spec in specs}
    policy_names = {policy.name for policy in parsed.policies}
    existing = {row.name: row for row in session.exec(select(AlertSource)).all()}
    gone = sorted(name for name in existing if prune and name not in names)
    if gone:
        session.exec(delete(AlertSource).where(col(AlertSource.name).in_(gone)))
        pruned.extend(f"source {name}" for name in gone)
    taken = {row.address: row.name for row in existing.values() if row.name not in gone}
    for spec in specs:
        owner = taken.get(spec.address)
        if owner is not None and owner != spec.name and owner not in names:
            raise ConfigFileError(
                f"source {spec.name}: address {spec.address} belongs to the source {owner}, "
                "which this file does not change; nothing was imported"
            )
        check_policy_exists(session, spec, also=policy_names)
    # Free every address first, so that two sources may swap addresses in one import.
    for spec in specs:
        row = existing.get(spec.name)
        if row is not None:
            row.address = f"#{row.id}"
            session.add(row)
    session.flush()
    for spec in specs:
        (updated if spec.name in existing else created).append(f"source {spec.name}")
        write_source(session, spec)


def _import_integrations(
    session, database: Database, parsed: ParsedConfig, actor, now, prune, created, updated, pruned
) -> None:
    rows = session.exec(select(Integration).order_by(col(Integration.id))).all()
    by_address: dict[str, Integration] = {}
    for row in rows:
        by_address.setdefault(normalise_address(row.address), row)
    wanted = set()
    for spec in parsed.integrations:
        row = by_address.get(spec.address)
        wanted.add(spec.address)
        label = f"integration {spec.address}"
        (updated if row is not None else created).append(label)
        write_integration(session, database, spec, actor, now, editing=row.id if row else None)
    if prune:
        for row in rows:
            if normalise_address(row.address) not in wanted:
                pruned.append(f"integration {row.address} (#{row.id})")
                session.delete(row)
