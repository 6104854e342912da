"""Configuration as code (SPEC §7): export to TOML, import validated whole before any change."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import tomli_w
from sqlmodel import col, delete, select

from app.core.addresses import AddressError, parse_address
from app.core.incidents.escalation import PolicySpec, list_policies, parse_policy, write_policy
from app.core.incidents.schedules import (
    ScheduleSpec,
    list_schedules,
    parse_schedule,
    write_schedule,
)
from app.core.intake.samples import (
    SampleResult,
    SourceSample,
    parse_samples,
    run_samples,
    stored_sample_rows,
)
from app.core.intake.sources import (
    SourceSpec,
    check_policy_exists,
    list_sources,
    parse_source,
    write_source,
)
from app.core.names import DEFAULT_PERMISSIONS
from app.core.notifications.integrations import (
    IntegrationSpec,
    concerns_about,
    integration_specs,
    parse_integration,
    write_integration,
)
from app.core.notifications.org import OrgView, load_org, parse_org, write_org
from app.core.store.db import Database, utc_now
from app.core.store.models import (
    AlertSource,
    EscalationPolicy,
    Group,
    Integration,
    Schedule,
    User,
)
from app.core.store.secrets import normalise_address
from app.core.users import (
    PermissionDenied,
    UserAdminError,
    UserView,
    check_permissions,
    check_user_name,
    list_users,
    put_user,
    require_current,
    users_as_stored,
)
from app.errors import MailsirenError

SECTIONS = ("org", "user", "schedule", "escalation_policy", "source", "integration")
NOT_YET: tuple[str, ...] = ()  # sections of SECTIONS not managed from a file yet (none now)
USER_KEYS = ("name", "email", "groups", "permissions")


class ConfigFileError(MailsirenError, ValueError):
    """The file cannot be imported; the message names the entry and key. Nothing changed."""

    title = "Configuration not imported"


@dataclass(frozen=True)
class UserSpec:
    """One `[[user]]`: the whole of a user a file sets (what it leaves out is the default)."""

    name: str
    email: str | None = None
    groups: tuple[str, ...] = ()  # sorted, as UserView's
    permissions: tuple[str, ...] = DEFAULT_PERMISSIONS  # in PERMISSIONS' order, as stored

    @classmethod
    def of(cls, view: UserView) -> UserSpec:
        return cls(view.name, view.email, tuple(sorted(view.groups)), view.permissions)

    def to_dict(self) -> dict:
        entry: dict = {"name": self.name}
        if self.email is not None:
            entry["email"] = self.email
        return entry | {"groups": list(self.groups), "permissions": list(self.permissions)}


@dataclass(frozen=True)
class ParsedConfig:
    org: OrgView | None = None
    policies: tuple[PolicySpec, ...] = ()
    sources: tuple[SourceSpec, ...] = ()
    integrations: tuple[IntegrationSpec, ...] = ()
    ignored: tuple[str, ...] = ()  # sections this version does not manage from a file
    users: tuple[UserSpec, ...] = ()
    lists_users: bool = False  # the file has a [[user]] section: --prune then prunes users
    samples: Mapping[str, tuple[SourceSample, ...]] = field(default_factory=dict)  # by source
    schedules: tuple[ScheduleSpec, ...] = ()


@dataclass(frozen=True)
class ImportReport:
    created: tuple[str, ...]
    updated: tuple[str, ...]
    pruned: tuple[str, ...]
    ignored: tuple[str, ...]  # sections this version does not manage yet
    warnings: tuple[str, ...] = field(default=())


def export_config(database: Database, actor: UserView | None = None) -> str:
    """The configuration as TOML; users only when the actor is an administrator (listing
    users is theirs). Never a password, never the shared SMTP configuration."""
    document: dict = {"org": load_org(database).to_dict()}
    users = _exported_users(database, actor)
    if users:
        document["user"] = users
    now = utc_now()  # an override that has ended is history, not configuration
    schedules = [
        replace(spec, overrides=tuple(o for o in spec.overrides if o.ends_at > now)).to_dict()
        for spec in list_schedules(database)
    ]
    if schedules:
        document["schedule"] = schedules
    policies = [view.spec.to_dict() for view in list_policies(database)]
    if policies:
        document["escalation_policy"] = policies
    samples = stored_sample_rows(database)
    document["source"] = [
        _source_table(spec, samples.get(spec.name, [])) for spec in list_sources(database)
    ]
    integrations = [spec.to_dict() for spec in integration_specs(database)]
    if integrations:
        document["integration"] = integrations
    text = tomli_w.dumps(document, multiline_strings=True)  # a sample's `raw` reads as a mail
    if tomllib.loads(text) != document:  # a multi-line string turned a CR LF into LF
        text = tomli_w.dumps(document, multiline_strings=False)
    return text


def _source_table(spec: SourceSpec, samples: list[dict]) -> dict:
    table = spec.to_dict()
    if samples:
        table["sample"] = [SourceSample.from_row(row).to_toml() for row in samples]
    return table


def _exported_users(database: Database, actor: UserView | None) -> list[dict]:
    if actor is None:
        return []
    try:
        views = list_users(database, actor)
    except PermissionDenied:
        return []
    return [UserSpec.of(view).to_dict() for view in views]


def parse_user(data: object, where: str) -> UserSpec:
    """Validate one `[[user]]`; ConfigFileError names the entry, the key and the fix. That its
    groups exist is checked against the database on import."""
    if not isinstance(data, dict):
        raise ConfigFileError(f"{where}: must be a table")
    name = data.get("name")
    if name is None:
        raise ConfigFileError(f'{where}: name: missing; give the login name, as in name = "bob"')
    try:
        check_user_name(name if isinstance(name, str) else repr(name))
    except UserAdminError as error:
        raise ConfigFileError(f"{where}: name: {error}") from None
    where = f"{where} ({name})"
    unknown = sorted(set(data) - set(USER_KEYS))
    if unknown:
        raise ConfigFileError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(USER_KEYS)}")
    email = data.get("email")
    if email is not None:
        if not isinstance(email, str) or not email.strip():
            raise ConfigFileError(
                f'{where}: email: must be an address like "{name}@example.com"; '
                "leave the key out for a user without one"
            )
        try:
            email = parse_address(email)
        except AddressError as error:
            raise ConfigFileError(f"{where}: email: {error}") from None
    groups = data.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
        raise ConfigFileError(f'{where}: groups must be a list like ["ops"]')
    permissions = data.get("permissions", list(DEFAULT_PERMISSIONS))
    if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
        raise ConfigFileError(
            f'{where}: permissions must be a list like ["view_connections", "triage"]'
        )
    try:
        chosen = check_permissions(permissions)
    except UserAdminError as error:
        raise ConfigFileError(f"{where}: permissions: {error}") from None
    return UserSpec(name, email, tuple(sorted(set(groups))), chosen)


def _tables(document: dict, key: str, origin: str) -> list:
    entries = document.get(key, [])
    if not isinstance(entries, list):
        raise ConfigFileError(f"{origin}: {key} entries are [[{key}]] tables")
    return entries


def _unique(items, key: str, section: str, fix: str = "") -> None:
    seen: dict[str, int] = {}
    for index, item in enumerate(items, start=1):
        value = getattr(item, key)
        if value in seen:
            raise ConfigFileError(
                f"[[{section}]] {index}: {key} {value!r} is already used by [[{section}]] "
                f"{seen[value]}" + (f"; {fix}" if fix else "")
            )
        seen[value] = index


def parse_config(text: str, origin: str = "the file", folder: Path | None = None) -> ParsedConfig:
    """Every entry validated; ConfigFileError on the first wrong one. A sample's `file` is
    read from `folder` (the TOML file's; None: the current directory)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigFileError(f"{origin} is not valid TOML: {error}") from error
    if "silence" in document:  # §10: state, made and ended by operators, never a file's
        raise ConfigFileError(
            f"{origin}: [[silence]] is not configuration: a silence is state, with an end. "
            "Add one with `mailsiren silences add --source NAME --for 2h --reason TEXT` (or z "
            "on the Sources screen), and take [[silence]] out of the file."
        )
    unknown = sorted(set(document) - set(SECTIONS))
    if unknown:
        raise ConfigFileError(
            f"{origin}: unknown section [{unknown[0]}]; known: {', '.join(SECTIONS)}"
        )
    try:
        org = parse_org(document["org"]) if "org" in document else None
        users = tuple(
            parse_user(entry, f"[[user]] {index}")
            for index, entry in enumerate(_tables(document, "user", origin), 1)
        )
        schedules = tuple(
            parse_schedule(entry, f"[[schedule]] {index}")
            for index, entry in enumerate(_tables(document, "schedule", origin), 1)
        )
        policies = tuple(
            parse_policy(entry, f"[[escalation_policy]] {index}")
            for index, entry in enumerate(_tables(document, "escalation_policy", origin), 1)
        )
        sources = tuple(
            parse_source(entry, f"[[source]] {index}")
            for index, entry in enumerate(_tables(document, "source", origin), 1)
        )
        samples = {
            spec.name: parse_samples(
                entry.get("sample", []), f"[[source]] {index} ({spec.name})", folder
            )
            for index, (spec, entry) in enumerate(
                zip(sources, _tables(document, "source", origin), strict=True), 1
            )
        }
        integrations = tuple(
            parse_integration(entry, f"[[integration]] {index}")
            for index, entry in enumerate(_tables(document, "integration", origin), 1)
        )
    except ValueError as error:  # RuleError and every entry's own error are ValueErrors
        raise ConfigFileError(str(error)) from error
    _unique(users, "name", "user", "list each user once")
    _unique(schedules, "name", "schedule")
    _unique(policies, "name", "escalation_policy")
    _unique(sources, "name", "source")
    _unique(sources, "address", "source")
    _unique(integrations, "address", "integration")
    ignored = tuple(section for section in NOT_YET if section in document)
    return ParsedConfig(
        org, policies, sources, integrations, ignored, users=users,
        lists_users="user" in document, samples=samples, schedules=schedules,
    )  # fmt: skip


def run_config_samples(parsed: ParsedConfig) -> list[SampleResult]:
    """Every sample of every source of the file through that source's rules, in memory."""
    return [
        result
        for spec in parsed.sources
        for result in run_samples(spec, parsed.samples.get(spec.name, ()))
    ]


def _refuse_failing_samples(parsed: ParsedConfig, origin: str) -> None:
    results = run_config_samples(parsed)
    failed = [result for result in results if not result.passed]
    if failed:
        raise ConfigFileError(
            f"{len(failed)} of {len(results)} samples fail: "
            + "; ".join(result.name for result in failed)
            + f"; nothing was imported. See what each did: mailsiren config check {origin}"
        )


def import_config(
    database: Database,
    actor: UserView,
    text: str,
    *,
    prune: bool = False,
    origin: str = "",
    folder: Path | None = None,
) -> ImportReport:
    """Create or update by name (integrations by address) in one transaction.

    --prune deletes the sources, policies and integrations the file does not name, and the
    users it does not name when it has a [[user]] section. Changing users, like changing
    [org], needs `admin`; a file that leaves them as they are does not. A file whose samples
    fail (SPEC §16) is refused whole; `folder` is where its sample files are.
    """
    require_current(database, actor, "edit_connections")
    if prune:
        require_current(database, actor, "delete_connections")
    parsed = parse_config(text, origin or "the file", folder)
    _refuse_failing_samples(parsed, origin or "FILE")
    if parsed.org is not None and parsed.org != load_org(database):
        require_current(database, actor, "admin")
    if _changes_users(database, parsed, prune):
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
            _import_users(session, database, parsed, actor, now, prune, created, updated, pruned)
            _import_schedules(session, parsed, actor, now, prune, created, updated, pruned)
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


def _import_schedules(
    session, parsed: ParsedConfig, actor, now, prune, created, updated, pruned
) -> None:
    """Each [[schedule]] created or replaced by name, its overrides the file's."""
    for index, spec in enumerate(parsed.schedules, start=1):
        is_new = write_schedule(session, spec, actor, now, f"[[schedule]] {index} ({spec.name})")
        (created if is_new else updated).append(f"schedule {spec.name}")
    if prune:
        wanted = {spec.name for spec in parsed.schedules}
        for row in session.exec(select(Schedule)).all():
            if row.name not in wanted:
                session.delete(row)
                pruned.append(f"schedule {row.name}")
        session.flush()


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
        row = write_source(session, spec)
        row.samples = [sample.to_row() for sample in parsed.samples.get(spec.name, ())]
        session.add(row)


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


def _changes_users(database: Database, parsed: ParsedConfig, prune: bool) -> bool:
    if not parsed.lists_users:
        return False
    with database.read() as session:
        stored = {view.name: UserSpec.of(view) for view in users_as_stored(session)}
    wanted = {spec.name for spec in parsed.users}
    return any(stored.get(spec.name) != spec for spec in parsed.users) or (
        prune and bool(set(stored) - wanted)
    )


def _import_users(
    session, database: Database, parsed: ParsedConfig, actor, now, prune, created, updated, pruned
) -> None:
    if not parsed.lists_users:
        return
    groups = set(session.exec(select(Group.name)).all())
    for index, spec in enumerate(parsed.users, start=1):
        for group in spec.groups:
            if group not in groups:
                raise ConfigFileError(
                    f"[[user]] {index} ({spec.name}): groups: no group {group!r}; create it "
                    f"first with: mailsiren groups add {group}; nothing was imported"
                )
    stored = {row.name: row for row in session.exec(select(User)).all()}
    admins = sorted(name for name, row in stored.items() if "admin" in row.permissions)
    if prune:
        gone = sorted(set(stored) - {spec.name for spec in parsed.users})
        if actor.name in gone:
            raise ConfigFileError(
                f"--prune would delete you ({actor.name}): the file's [[user]] entries leave "
                f"you out; add a [[user]] for {actor.name}; nothing was imported"
            )
        if gone:
            session.exec(delete(User).where(col(User.name).in_(gone)))
            pruned.extend(f"user {name}" for name in gone)
    for spec in parsed.users:
        is_new = put_user(
            session,
            database,
            spec.name,
            email=spec.email,
            groups=spec.groups,
            permissions=spec.permissions,
            clock=lambda: now,
        )
        (created if is_new else updated).append(f"user {spec.name}")
    session.flush()
    if not any("admin" in permissions for permissions in session.exec(select(User.permissions))):
        raise ConfigFileError(
            'after this import no user would be an administrator: keep "admin" in the '
            f"permissions of at least one [[user]] (now: {', '.join(admins)}); "
            "nothing was imported"
        )
