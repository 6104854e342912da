"""The organization's settings: internal domains, notify_on, storm control, the reply
address, and how long mails keep their text (retention_days)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from app.core.addresses import AddressError, parse_address, parse_host_name
from app.core.names import DEFAULT_NOTIFY_ON, NOTIFY_EVENTS
from app.core.store.db import Clock, Database, utc_now
from app.core.store.models import OrgSettings
from app.core.users import UserView, require_current
from app.errors import MailsirenError

ORG_KEYS = (
    "internal_domains", "notify_on", "storm_limit", "storm_window_minutes", "reply_address",
    "retention_days",
)  # fmt: skip
RETENTION_DAYS_MOST = 36500  # a hundred years: more is a typo
ORG = OrgSettings.__table__  # type: ignore[attr-defined]
READ_ORG = select(ORG).where(ORG.c.id == 1)
NOTIFY_EVENT_HELP = {
    "incident_opened": "a new incident",
    "incident_retriggered": "another alert mail for an open incident, or a reopen",
    "incident_accepted": "someone accepted it",
    "incident_resolved": "resolved, by a recovery mail or by hand",
    "incident_escalated": "an escalation step paged its targets",
}


class OrgSettingsError(MailsirenError, ValueError):
    """A setting that cannot be saved; the message names it and what is allowed."""

    title = "Organization settings not saved"


@dataclass(frozen=True)
class OrgView:
    internal_domains: tuple[str, ...] = ()
    notify_on: tuple[str, ...] = DEFAULT_NOTIFY_ON
    storm_limit: int = 10
    storm_window_minutes: int = 3
    reply_address: str | None = None  # §15: replies to notifications act on their incident
    retention_days: int = 0  # §17: 0 keeps mails forever; else resolved ones' text is pruned

    def is_internal(self, address: str) -> bool:
        """True when the address's domain is an internal domain or a subdomain of one."""
        domain = address.rpartition("@")[2].lower().rstrip(".")
        return any(domain == d or domain.endswith("." + d) for d in self.internal_domains)

    def to_dict(self) -> dict:
        return {
            "internal_domains": list(self.internal_domains),
            "notify_on": list(self.notify_on),
            "storm_limit": self.storm_limit,
            "storm_window_minutes": self.storm_window_minutes,
            "retention_days": self.retention_days,
        } | ({"reply_address": self.reply_address} if self.reply_address else {})


def parse_org(data: object, where: str = "[org]") -> OrgView:
    """Validate `[org]` (or the screen's form): OrgSettingsError names the key."""
    if not isinstance(data, dict):
        raise OrgSettingsError(f"{where} must be a table")
    unknown = sorted(set(data) - set(ORG_KEYS))
    if unknown:
        raise OrgSettingsError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(ORG_KEYS)}")
    defaults = OrgView()
    domains = data.get("internal_domains", [])
    if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
        raise OrgSettingsError(f'{where}: internal_domains must be a list like ["example.com"]')
    checked = []
    for domain in domains:
        try:
            checked.append(parse_host_name(domain.removeprefix("@")).lower().rstrip("."))
        except AddressError as error:
            raise OrgSettingsError(f"{where}: internal_domains: {domain!r}: {error}") from None
    notify_on = data.get("notify_on", list(defaults.notify_on))
    if not isinstance(notify_on, list):
        raise OrgSettingsError(f"{where}: notify_on must be a list of event kinds")
    for kind in notify_on:
        if kind not in NOTIFY_EVENTS:
            raise OrgSettingsError(
                f"{where}: notify_on: {kind!r} is not an event kind; known: "
                + ", ".join(NOTIFY_EVENTS)
            )
    limit = data.get("storm_limit", defaults.storm_limit)
    window = data.get("storm_window_minutes", defaults.storm_window_minutes)
    for key, value, most in (("storm_limit", limit, 1000), ("storm_window_minutes", window, 1440)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
            raise OrgSettingsError(f"{where}: {key} must be a whole number from 1 to {most}")
    return OrgView(
        tuple(dict.fromkeys(checked)),
        tuple(kind for kind in NOTIFY_EVENTS if kind in notify_on),
        limit,
        window,
        check_reply_address(data.get("reply_address"), where),
        check_retention_days(data.get("retention_days", 0), where),
    )


def check_retention_days(value: object, where: str = "[org]") -> int:
    """Days a mail keeps its raw bytes and text once its incidents are resolved; 0: forever."""
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not 0 <= value <= RETENTION_DAYS_MOST
    ):
        raise OrgSettingsError(
            f"{where}: retention_days must be a whole number of days from 0 (keep mails "
            f"forever) to {RETENTION_DAYS_MOST:,}, not {value!r}"
        )
    return value


def check_reply_address(value: object, where: str = "[org]") -> str | None:
    """The address replies to notifications are sent to (its local part gets +TOKEN), or
    None; empty means none."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise OrgSettingsError(f"{where}: reply_address must be an address like "
                               '"mailsiren@alerts.example.com"')  # fmt: skip
    try:
        address = parse_address(value).lower()
    except AddressError as error:
        raise OrgSettingsError(f"{where}: reply_address {value!r}: {error}") from None
    local = address.rpartition("@")[0]
    if "+" in local:
        raise OrgSettingsError(
            f"{where}: reply_address {value!r} has a + in its local part; mailsiren adds "
            "+TOKEN to it itself: write it without"
        )
    if len(local) > 20:
        raise OrgSettingsError(
            f"{where}: reply_address {value!r}: its local part is {len(local)} characters; at "
            "most 20, so that with +TOKEN it stays within the 64 a mail address allows"
        )
    return address


def read_org(connection: Connection) -> OrgView:
    """The settings as stored, or the defaults when none were ever saved."""
    row = connection.execute(READ_ORG).first()
    if row is None:
        return OrgView()
    return OrgView(
        tuple(row.internal_domains),
        tuple(row.notify_on),
        row.storm_limit,
        row.storm_window_minutes,
        row.reply_address,
        row.retention_days,
    )


def load_org(database: Database) -> OrgView:
    with database.read() as session:
        return read_org(session.connection())


def write_org(session, settings: OrgView, now) -> None:
    row = session.get(OrgSettings, 1) or OrgSettings(id=1, updated_at=now)
    row.internal_domains = list(settings.internal_domains)
    row.notify_on = list(settings.notify_on)
    row.storm_limit = settings.storm_limit
    row.storm_window_minutes = settings.storm_window_minutes
    row.reply_address = settings.reply_address
    row.retention_days = settings.retention_days
    row.updated_at = now
    session.add(row)


def save_org(
    database: Database, actor: UserView, settings: OrgView, *, clock: Clock = utc_now
) -> OrgView:
    """Organization-wide settings need the `admin` permission."""
    require_current(database, actor, "admin")
    with database.write() as session:
        write_org(session, settings, clock())
    return settings
