"""Escalation policies, and the timers that page their steps while an incident is pending.

A run is a row (`escalation_run`): the next step and when it is due. `serve` takes the
steps that are due; after a restart the rows say exactly where each escalation was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from app.core.addresses import AddressError, parse_address
from app.core.entries import known_table
from app.core.incidents.lifecycle import StepTaken, take_escalation_step
from app.core.incidents.schedules import TARGET_PREFIX, schedule_target
from app.core.store.db import Clock, Database, utc_now
from app.core.store.models import (
    AlertSource,
    EscalationPolicy,
    EscalationRun,
    Schedule,
    User,
)
from app.core.store.secrets import normalise_address
from app.core.users import UserAdminError, UserView, check_user_name, require_current
from app.errors import MailsirenError

POLICY_KEYS = ("name", "repeat", "step", "owner")
STEP_KEYS = ("targets", "delay_minutes")
MAX_DELAY_MINUTES = 7 * 24 * 60
RUNS = EscalationRun.__table__  # type: ignore[attr-defined]
POLICIES = EscalationPolicy.__table__  # type: ignore[attr-defined]


class EscalationError(MailsirenError, ValueError):
    """A policy that cannot be saved or removed; the message names the entry and key."""

    title = "Escalation policy not valid"


@dataclass(frozen=True)
class Step:
    targets: tuple[str, ...]  # addresses (lower-cased), user names, or schedule:NAME
    delay_minutes: int

    def to_dict(self) -> dict:
        return {"targets": list(self.targets), "delay_minutes": self.delay_minutes}


@dataclass(frozen=True)
class PolicySpec:
    name: str
    steps: tuple[Step, ...]
    repeat: int = 0
    owner: str | None = None  # whose SMTP configuration sends the pages

    def to_dict(self) -> dict:
        data: dict = {"name": self.name, "repeat": self.repeat}
        if self.owner:
            data["owner"] = self.owner
        data["step"] = [step.to_dict() for step in self.steps]
        return data

    def describe(self) -> str:
        steps = "; then ".join(
            f"after {step.delay_minutes} min {', '.join(step.targets)}" for step in self.steps
        )
        again = f", repeated {self.repeat}×" if self.repeat else ""
        return f"{steps}{again}"


def check_target(target: object, where: str) -> str:
    """An address (lower-cased), a user name, or `schedule:NAME` (whoever is on call in the
    schedule when the step fires, §18)."""
    if not isinstance(target, str) or not target.strip():
        raise EscalationError(
            f"{where}: a target is an address, a user name or schedule:NAME, not {target!r}"
        )
    text = target.strip()
    schedule = schedule_target(text)
    if schedule is not None:
        if not schedule or any(ch in schedule for ch in " ,\t\r\n"):
            raise EscalationError(
                f"{where}: target {text!r}: name a schedule, as in schedule:primary"
            )
        return f"{TARGET_PREFIX}{schedule}"
    try:
        if "@" in text:
            return normalise_address(parse_address(text))
        return check_user_name(text)
    except (AddressError, UserAdminError) as error:
        raise EscalationError(f"{where}: target {text!r}: {error}") from None


def parse_policy(data: object, where: str) -> PolicySpec:
    """Validate one `[[escalation_policy]]`; EscalationError names the entry and key."""
    data = known_table(data, where, POLICY_KEYS, EscalationError)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 128:
        raise EscalationError(f"{where}: name must be a short non-empty string, e.g. ops")
    name = name.strip()
    if any(ch in name for ch in "\r\n\t"):
        raise EscalationError(f"{where}: name must be one line")
    where = f"{where} ({name})"
    repeat = data.get("repeat", 0)
    if not isinstance(repeat, int) or isinstance(repeat, bool) or not 0 <= repeat <= 100:
        raise EscalationError(f"{where}: repeat must be a whole number from 0 to 100")
    entries = data.get("step", [])
    if not isinstance(entries, list) or not entries:
        raise EscalationError(f"{where}: needs at least one [[escalation_policy.step]]")
    steps = []
    for index, entry in enumerate(entries, start=1):
        at = f"{where}: step {index}"
        if not isinstance(entry, dict):
            raise EscalationError(f"{at}: must be a table with targets and delay_minutes")
        extra = sorted(set(entry) - set(STEP_KEYS))
        if extra:
            raise EscalationError(f"{at}: unknown key {extra[0]!r}; known: targets, delay_minutes")
        targets = entry.get("targets")
        if not isinstance(targets, list) or not targets:
            raise EscalationError(
                f'{at}: targets must be a non-empty list like ["ops@example.com"]'
            )
        delay = entry.get("delay_minutes", 0)
        if (
            not isinstance(delay, int)
            or isinstance(delay, bool)
            or not 0 <= delay <= MAX_DELAY_MINUTES
        ):
            raise EscalationError(
                f"{at}: delay_minutes must be a whole number from 0 to {MAX_DELAY_MINUTES}"
            )
        checked = tuple(dict.fromkeys(check_target(target, at) for target in targets))
        steps.append(Step(checked, delay))
    owner = data.get("owner")
    if owner is not None and (not isinstance(owner, str) or not owner.strip()):
        raise EscalationError(f"{where}: owner must be a user name")
    return PolicySpec(name, tuple(steps), repeat, owner.strip() if owner else None)


def _spec_of(row: EscalationPolicy, owner: str | None) -> PolicySpec:
    steps = tuple(
        Step(tuple(step["targets"]), int(step["delay_minutes"])) for step in json.loads(row.steps)
    )
    return PolicySpec(row.name, steps, row.repeat, owner)


@dataclass(frozen=True)
class PolicyView:
    id: int
    spec: PolicySpec
    used_by: tuple[str, ...]  # the sources that name it
    running: int  # incidents being escalated by it now


def list_policies(database: Database, actor: UserView | None = None) -> list[PolicyView]:
    if actor is not None:
        require_current(database, actor, "view_connections")
    with database.read() as session:
        rows = session.execute(
            select(EscalationPolicy, User.name)
            .outerjoin(User, col(User.id) == EscalationPolicy.owner_id)
            .order_by(EscalationPolicy.name)
        ).all()
        users = {}
        for name, policy in session.execute(
            select(AlertSource.name, AlertSource.escalation_policy).where(
                col(AlertSource.escalation_policy).is_not(None)
            )
        ).all():
            users.setdefault(policy, []).append(name)
        running = dict(
            session.execute(
                select(EscalationRun.policy_id, func.count()).group_by(EscalationRun.policy_id)
            ).all()
        )
    return [
        PolicyView(
            row.id or 0,
            _spec_of(row, owner),
            tuple(sorted(users.get(row.name, []))),
            running.get(row.id, 0),
        )
        for row, owner in rows
    ]


def write_policy(
    session: Session,
    spec: PolicySpec,
    actor: UserView,
    now: datetime,
    *,
    original: str | None = None,
    new: bool = False,
) -> EscalationPolicy:
    """Create or update (by `original` name, or by the spec's name) in the open session;
    `new` refuses a name that exists (a form's new policy never replaces another)."""
    name = original or spec.name
    row = (
        session.execute(select(EscalationPolicy).where(EscalationPolicy.name == name))
        .scalars()
        .first()
    )
    if new and row is not None:
        raise EscalationError(
            f"an escalation policy named {spec.name!r} already exists; choose another name"
        )
    if original is not None and row is None:
        raise EscalationError(f"no escalation policy {original!r}; nothing was saved")
    if original is not None and spec.name != original:
        clash = (
            session.execute(select(EscalationPolicy).where(EscalationPolicy.name == spec.name))
            .scalars()
            .first()
        )
        if clash is not None:
            raise EscalationError(f"an escalation policy named {spec.name!r} already exists")
    for step_number, step in enumerate(spec.steps, start=1):
        for target in step.targets:
            schedule = schedule_target(target)
            if schedule is not None:
                if session.execute(select(Schedule.id).where(Schedule.name == schedule)).first():
                    continue
                raise EscalationError(
                    f"escalation policy {spec.name}: step {step_number}: no schedule "
                    f"{schedule!r} (mailsiren schedules list)"
                )
            if (
                "@" not in target
                and session.execute(select(User.id).where(User.name == target)).first() is None
            ):
                raise EscalationError(
                    f"escalation policy {spec.name}: step {step_number}: {target!r} is neither "
                    "an address nor a mailsiren user (mailsiren users list)"
                )
    owner_id = actor.id
    if spec.owner:
        owner_id = session.execute(select(User.id).where(User.name == spec.owner)).scalars().first()
        if owner_id is None:
            raise EscalationError(
                f"escalation policy {spec.name}: owner {spec.owner!r} is not a mailsiren user"
            )
    elif row is not None and row.owner_id is not None:
        owner_id = row.owner_id
    if row is None:
        row = EscalationPolicy(name=spec.name, steps="[]", updated_at=now)
    elif spec.name != row.name:  # a rename: the sources follow
        session.execute(
            update(AlertSource)
            .where(col(AlertSource.escalation_policy) == row.name)
            .values(escalation_policy=spec.name)
        )
    row.name, row.repeat, row.owner_id, row.updated_at = spec.name, spec.repeat, owner_id, now
    row.steps = json.dumps([step.to_dict() for step in spec.steps])
    session.add(row)
    session.flush()
    return row


def save_policy(
    database: Database,
    actor: UserView,
    spec: PolicySpec,
    *,
    original: str | None = None,
    new: bool = False,
    clock: Clock = utc_now,
) -> PolicySpec:
    """Create or change a policy; needs `edit_connections`. Running escalations use the
    new steps from their next step on. `new` refuses a name that exists."""
    require_current(database, actor, "edit_connections")
    with database.write() as session:
        write_policy(session, spec, actor, clock(), original=original, new=new)
    return spec


def delete_policy(database: Database, actor: UserView, name: str) -> None:
    """Needs `delete_connections`; refused while a source names the policy."""
    require_current(database, actor, "delete_connections")
    with database.write() as session:
        row = (
            session.execute(select(EscalationPolicy).where(EscalationPolicy.name == name))
            .scalars()
            .first()
        )
        if row is None:
            raise EscalationError(f"no escalation policy {name!r}; nothing was deleted")
        users = (
            session.execute(
                select(AlertSource.name).where(col(AlertSource.escalation_policy) == name)
            )
            .scalars()
            .all()
        )
        if users:
            raise EscalationError(
                f"the sources {', '.join(sorted(users))} use the policy {name}: choose another "
                "policy for them first; nothing was deleted"
            )
        session.delete(row)


# Steps: due runs are taken by the notifier; each step is written by the lifecycle --------------


def take_due_steps(
    database: Database, *, clock: Clock = utc_now, limit: int = 100
) -> list[StepTaken]:
    """Page every step that is due, each in its own short transaction; returns them."""
    now = clock()
    with database.read() as session:
        due = (
            session.execute(
                select(RUNS.c.incident_id)
                .where(RUNS.c.due_at <= now)
                .order_by(RUNS.c.due_at)
                .limit(limit)
            )
            .scalars()
            .all()
        )
    taken = []
    for incident_id in due:
        with database.write() as session:
            step = take_escalation_step(session.connection(), incident_id, now)
        if step is not None:
            taken.append(step)
    return taken
