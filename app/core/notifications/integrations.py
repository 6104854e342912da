"""Email integrations: which addresses receive which severities, checked before saving."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.core.addresses import AddressError, parse_address
from app.core.entries import known_table
from app.core.names import FREQUENCIES, LEVELS, SEVERITIES
from app.core.notifications.digests import DIGEST_AT, check_digest_at
from app.core.notifications.org import OrgView, read_org
from app.core.store.db import Clock, Database, as_utc, utc_now
from app.core.store.models import (
    Delivery,
    DeliveryAttempt,
    Integration,
    User,
)
from app.core.store.secrets import normalise_address
from app.core.users import UserView, require_current
from app.errors import MailsirenError

INTEGRATION_KEYS = (
    "address", "level", "and_above", "frequency", "digest_at", "enabled", "owner",
)  # fmt: skip
LEVEL_HELP = {
    "all": "every severity",
    "alert": "alert incidents",
    "warning": "warning incidents",
    "info": "info incidents",
}
EXTERNAL_CAUTION = (
    "Be cautious when adding external email addresses: notifications may contain "
    "vulnerability details."
)


class IntegrationError(MailsirenError, ValueError):
    """An integration that cannot be saved; the message names the field and the fix."""

    title = "Integration not saved"


class NeedsConfirmation(MailsirenError):
    """Saving is possible, but a person should confirm first (duplicate, external address)."""

    title = "Please confirm"

    def __init__(self, concerns: tuple[str, ...]) -> None:
        self.concerns = concerns
        super().__init__(" ".join(concerns) + " Confirm to save anyway (--yes).")


def level_matches(level: str, and_above: bool, severity: str) -> bool:
    """`all` takes every severity; otherwise exactly the level, or it and worse with and_above."""
    if level == "all":
        return True
    if and_above:
        return SEVERITIES.index(severity) <= SEVERITIES.index(level)
    return severity == level


def describe_level(level: str, and_above: bool) -> str:
    if level == "all":
        return "all"
    return f"{level} and above" if and_above and level != "alert" else level


@dataclass(frozen=True)
class IntegrationSpec:
    address: str
    level: str = "all"
    and_above: bool = False
    frequency: str = "instant"
    enabled: bool = True
    owner: str | None = None  # user name; None: whoever saves it
    digest_at: str | None = None  # daily digests: HH:MM, local time

    def to_dict(self) -> dict:
        data: dict = {"address": self.address, "level": self.level}
        if self.and_above:
            data["and_above"] = True
        data["frequency"] = self.frequency
        if self.digest_at:
            data["digest_at"] = self.digest_at
        if not self.enabled:
            data["enabled"] = False
        if self.owner:
            data["owner"] = self.owner
        return data


@dataclass(frozen=True)
class IntegrationView:
    id: int
    address: str
    level: str
    and_above: bool
    frequency: str
    enabled: bool
    owner: str | None
    last_success: datetime | None = None
    last_failure: datetime | None = None
    throttled_until: datetime | None = None
    digest_at: str | None = None

    @property
    def level_text(self) -> str:
        return describe_level(self.level, self.and_above)

    @property
    def spec(self) -> IntegrationSpec:
        return IntegrationSpec(
            self.address, self.level, self.and_above, self.frequency, self.enabled, self.owner,
            self.digest_at,
        )  # fmt: skip

    def label(self) -> str:
        return f"#{self.id} {self.address} ({self.level_text})"

    def to_json(self) -> dict:
        def stamp(moment: datetime | None) -> str | None:
            return as_utc(moment).isoformat() if moment else None

        return {
            "id": self.id,
            "address": self.address,
            "level": self.level,
            "and_above": self.and_above,
            "frequency": self.frequency,
            "digest_at": self.digest_at,
            "enabled": self.enabled,
            "owner": self.owner,
            "last_success": stamp(self.last_success),
            "last_failure": stamp(self.last_failure),
            "throttled_until": stamp(self.throttled_until),
        }


def parse_integration(data: object, where: str) -> IntegrationSpec:
    """Validate one `[[integration]]` or form; IntegrationError names the entry and key."""
    data = known_table(data, where, INTEGRATION_KEYS, IntegrationError)
    try:
        address = normalise_address(parse_address(str(data.get("address") or "")))
    except AddressError as error:
        raise IntegrationError(f"{where}: address: {error}") from None
    where = f"{where} ({address})"
    level = data.get("level", "all")
    if level not in LEVELS:
        raise IntegrationError(f"{where}: level {level!r} is not one of {', '.join(LEVELS)}")
    frequency = data.get("frequency", "instant")
    if frequency not in FREQUENCIES:
        raise IntegrationError(
            f"{where}: frequency {frequency!r} is not one of {', '.join(FREQUENCIES)}"
        )
    digest_at = data.get("digest_at")
    if digest_at is not None and frequency != "daily":
        raise IntegrationError(f'{where}: digest_at is for frequency = "daily" only')
    if frequency == "daily":
        try:
            digest_at = check_digest_at(digest_at if digest_at is not None else DIGEST_AT)
        except ValueError as error:
            raise IntegrationError(f"{where}: {error}") from None
    for key in ("and_above", "enabled"):
        if not isinstance(data.get(key, True), bool):
            raise IntegrationError(f"{where}: {key} must be true or false")
    owner = data.get("owner")
    if owner is not None and (not isinstance(owner, str) or not owner.strip()):
        raise IntegrationError(f"{where}: owner must be a user name")
    return IntegrationSpec(
        address,
        level,
        bool(data.get("and_above", False)),
        frequency,
        data.get("enabled", True),
        owner.strip() if owner else None,
        digest_at,
    )


def concerns_about(
    database: Database,
    spec: IntegrationSpec,
    *,
    editing: int | None = None,
    ignore_duplicates: bool = False,
    org: OrgView | None = None,
) -> tuple[str, ...]:
    """What a person should confirm before saving: a duplicate address, an external one."""
    concerns = []
    with database.read() as session:
        others = (
            [] if ignore_duplicates else _with_address(session, database, spec.address, editing)
        )
        org = org or read_org(session.connection())
    if others:
        named = ", ".join(other.label() for other in others)
        concerns.append(
            f"{spec.address} is already configured ({named}); whatever the configuration, "
            "an event sends it one email, but duplicate entries are usually a mistake."
        )
    if not org.is_internal(spec.address):
        inside = ", ".join(org.internal_domains) or "none are set yet"
        concerns.append(
            f"{spec.address} is outside the internal domains ({inside}). {EXTERNAL_CAUTION}"
        )
    return tuple(concerns)


def _with_address(
    session: Session, database: Database, address: str, editing: int | None
) -> list[IntegrationView]:
    digest = database.keyring.keyed_hash(normalise_address(address))
    query = select(Integration, User.name).outerjoin(User, col(User.id) == Integration.owner_id)
    rows = session.exec(query.where(Integration.address_hash == digest)).all()
    return [_view(row, owner) for row, owner in rows if row.id != editing]


def _view(row: Integration, owner: str | None) -> IntegrationView:
    return IntegrationView(
        row.id or 0, row.address, row.level, row.and_above, row.frequency, row.enabled, owner,
        digest_at=row.digest_at,
    )  # fmt: skip


def integration_specs(database: Database) -> list[IntegrationSpec]:
    """Every integration as `config export` writes it."""
    with database.read() as session:
        query = select(Integration, User.name).outerjoin(User, col(User.id) == Integration.owner_id)
        rows = session.exec(query.order_by(col(Integration.id))).all()
    return [_view(row, owner).spec for row, owner in rows]


def list_integrations(
    database: Database, actor: UserView, *, clock: Clock = utc_now
) -> list[IntegrationView]:
    """Every integration with its delivery health; needs `view_connections`."""
    require_current(database, actor, "view_connections")
    now = clock()
    with database.read() as session:
        query = select(Integration, User.name).outerjoin(User, col(User.id) == Integration.owner_id)
        rows = session.exec(query.order_by(col(Integration.id))).all()
        hashes = [row.address_hash for row, _ in rows]
        sent = dict(
            session.exec(
                select(Delivery.address_hash, func.max(Delivery.sent_at))
                .where(col(Delivery.address_hash).in_(hashes))
                .group_by(Delivery.address_hash)
            ).all()
        )
        failed = dict(
            session.exec(
                select(Delivery.address_hash, func.max(DeliveryAttempt.at))
                .join(DeliveryAttempt, col(DeliveryAttempt.delivery_id) == Delivery.id)
                .where(col(Delivery.address_hash).in_(hashes), DeliveryAttempt.outcome != "sent")
                .group_by(Delivery.address_hash)
            ).all()
        )
        held = dict(
            session.exec(
                select(Delivery.address_hash, func.max(Delivery.held_until))
                .where(
                    col(Delivery.address_hash).in_(hashes),
                    col(Delivery.held_until) > now,
                    col(Delivery.digest).is_(None),  # a digest's wait is no throttle
                )  # fmt: skip
                .where(col(Delivery.status).in_(("queued", "retrying")))
                .group_by(Delivery.address_hash)
            ).all()
        )
    return [
        replace(
            _view(row, owner),
            last_success=_aware(sent.get(row.address_hash)),
            last_failure=_aware(failed.get(row.address_hash)),
            throttled_until=_aware(held.get(row.address_hash)),
        )
        for row, owner in rows
    ]


def _aware(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None


def save_integration(
    database: Database,
    actor: UserView,
    spec: IntegrationSpec,
    *,
    editing: int | None = None,
    confirmed: bool = False,
    clock: Clock = utc_now,
) -> IntegrationView:
    """Add (or, with `editing`, change) an integration; needs `edit_connections`.

    Raises NeedsConfirmation, saving nothing, when the address is a duplicate or external
    and `confirmed` is false.
    """
    require_current(database, actor, "edit_connections")
    if not confirmed:
        concerns = concerns_about(database, spec, editing=editing)
        if concerns:
            raise NeedsConfirmation(concerns)
    with database.write() as session:
        row = write_integration(session, database, spec, actor, clock(), editing=editing)
        owner = session.get(User, row.owner_id).name if row.owner_id else None
        return _view(row, owner)


def write_integration(
    session: Session,
    database: Database,
    spec: IntegrationSpec,
    actor: UserView,
    now: datetime,
    *,
    editing: int | None = None,
) -> Integration:
    if editing is not None:
        row = session.get(Integration, editing)
        if row is None:
            raise IntegrationError(f"no integration #{editing}; nothing was saved")
    else:
        row = Integration(address="", address_hash="", level="all", updated_at=now)
    owner_id = actor.id
    if spec.owner:
        owner = session.exec(select(User).where(User.name == spec.owner)).first()
        if owner is None:
            raise IntegrationError(
                f"integration {spec.address}: owner {spec.owner!r} is not a mailsiren user "
                "(mailsiren users list)"
            )
        owner_id = owner.id
    elif editing is not None and row.owner_id is not None:
        owner_id = row.owner_id
    row.address = spec.address
    row.address_hash = database.keyring.keyed_hash(normalise_address(spec.address))
    row.level, row.and_above = spec.level, spec.and_above
    row.frequency, row.enabled = spec.frequency, spec.enabled
    row.digest_at = spec.digest_at
    row.owner_id = owner_id
    row.updated_at = now
    session.add(row)
    session.flush()
    return row


def find_integrations(database: Database, actor: UserView, which: str) -> list[IntegrationView]:
    """`#3` or `3` is one integration by id; anything else, every entry with that address."""
    everything = list_integrations(database, actor)
    number = which.removeprefix("#")
    if number.isdigit():
        found = [view for view in everything if view.id == int(number)]
    else:
        found = [view for view in everything if view.address == normalise_address(which)]
    if not found:
        raise IntegrationError(f"no integration {which}; see mailsiren integrations list")
    return found


def remove_integration(database: Database, actor: UserView, integration_id: int) -> None:
    """Delete one integration; needs `delete_connections`. Its past deliveries stay listed."""
    require_current(database, actor, "delete_connections")
    with database.write() as session:
        row = session.get(Integration, integration_id)
        if row is None:
            raise IntegrationError(f"no integration #{integration_id}; nothing was removed")
        session.delete(row)
