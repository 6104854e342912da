"""Configuration as code (SPEC §7): export to TOML, import validated whole before any change."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass

import tomli_w
from sqlmodel import col, delete, select

from app.core.db import Database
from app.core.models import AlertSource
from app.core.rules import RuleError
from app.core.sources import SourceSpec, list_sources, parse_source, write_source
from app.core.users import UserView, require_current
from app.errors import MailsirenError

SECTIONS = ("org", "user", "escalation_policy", "source", "integration")
NOT_YET = ("org", "user", "escalation_policy", "integration")


class ConfigFileError(MailsirenError, ValueError):
    """The file cannot be imported; the message names the entry and key. Nothing changed."""


@dataclass(frozen=True)
class ImportReport:
    created: tuple[str, ...]
    updated: tuple[str, ...]
    pruned: tuple[str, ...]
    ignored: tuple[str, ...]  # sections this version does not manage yet


def export_config(database: Database) -> str:
    """Sources as TOML. Never a password, never the shared SMTP configuration."""
    document = {"source": [spec.to_dict() for spec in list_sources(database)]}
    return tomli_w.dumps(document, multiline_strings=False)


def parse_config(text: str, origin: str = "the file") -> tuple[list[SourceSpec], list[str]]:
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
    entries = document.get("source", [])
    if not isinstance(entries, list):
        raise ConfigFileError(f"{origin}: sources are [[source]] tables")
    specs: list[SourceSpec] = []
    for index, entry in enumerate(entries, start=1):
        try:
            specs.append(parse_source(entry, f"[[source]] {index}"))
        except RuleError as error:
            raise ConfigFileError(str(error)) from error
    for key in ("name", "address"):
        seen: dict[str, int] = {}
        for index, spec in enumerate(specs, start=1):
            value = getattr(spec, key)
            if value in seen:
                raise ConfigFileError(
                    f"[[source]] {index} ({spec.name}): {key} {value!r} is already used by "
                    f"[[source]] {seen[value]}"
                )
            seen[value] = index
    ignored = [section for section in NOT_YET if section in document]
    return specs, ignored


def import_config(
    database: Database, actor: UserView, text: str, *, prune: bool = False, origin: str = ""
) -> ImportReport:
    """Create or update sources by name in one transaction; --prune deletes the others."""
    require_current(database, actor, "edit_connections")
    if prune:
        require_current(database, actor, "delete_connections")
    specs, ignored = parse_config(text, origin or "the file")
    names = {spec.name for spec in specs}
    created, updated = [], []
    with database.write() as session:
        existing = {row.name: row for row in session.exec(select(AlertSource)).all()}
        pruned = sorted(name for name in existing if prune and name not in names)
        if pruned:
            session.exec(delete(AlertSource).where(col(AlertSource.name).in_(pruned)))
        taken = {row.address: row.name for row in existing.values() if row.name not in pruned}
        for spec in specs:
            owner = taken.get(spec.address)
            if owner is not None and owner != spec.name and owner not in names:
                raise ConfigFileError(
                    f"source {spec.name}: address {spec.address} belongs to the source {owner}, "
                    "which this file does not change; nothing was imported"
                )
        # Free every address first, so that two sources may swap addresses in one import.
        for spec in specs:
            row = existing.get(spec.name)
            if row is not None:
                row.address = f"#{row.id}"
                session.add(row)
        session.flush()
        for spec in specs:
            (updated if spec.name in existing else created).append(spec.name)
            write_source(session, spec)
    return ImportReport(tuple(created), tuple(updated), tuple(pruned), tuple(ignored))
