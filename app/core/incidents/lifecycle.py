"""The one place incident facts are written: open, append, resolve, accept, reopen, escalation runs and steps, timeline events and the outbox rows they queue.

Every function works on the caller's `Connection`, inside the caller's transaction: the
mail pipeline, triage from the UI or the CLI, and the notifier's escalation steps all come
here, so a new incident fact is added in one module. Statements are SQLAlchemy Core, built
once (the pipeline runs them for every mail).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from app.core.incidents.schedules import on_call_now, schedule_target
from app.core.names import OPEN_STATES, SEVERITIES
from app.core.notifications.integrations import level_matches
from app.core.notifications.routing import Page, Routing, queue_event
from app.core.store.db import WriteConflict
from app.core.store.models import (
    AlertSource,
    EscalationPolicy,
    EscalationRun,
    Incident,
    TimelineEvent,
    User,
)
from app.errors import MailsirenError

if TYPE_CHECKING:
    from app.core.incidents.silences import Covering

INCIDENTS = Incident.__table__  # type: ignore[attr-defined]
EVENTS = TimelineEvent.__table__  # type: ignore[attr-defined]
SOURCES = AlertSource.__table__  # type: ignore[attr-defined]
RUNS = EscalationRun.__table__  # type: ignore[attr-defined]
POLICIES = EscalationPolicy.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]

EMAIL_ACTOR = "email"  # who resolved an incident when a recovery mail did
ESCALATION_ACTOR = "escalation"
TIMEOUT_ACTOR = "timeout"  # §14: ack_timeout_minutes and auto_resolve_minutes
NOTE_LIMIT = 4000  # characters of one note (§14)
# Triage: from which states an action may start, and the state it leads to.
TRANSITIONS = {
    "accept": (("pending",), "accepted"),
    "resolve": (OPEN_STATES, "resolved"),
    "reopen": (("resolved",), "pending"),
}
EVENT_OF_ACTION = {"accept": "accepted", "resolve": "resolved", "reopen": "reopened"}
NOTIFICATION_OF_ACTION = {
    "accept": "incident_accepted",
    "resolve": "incident_resolved",
    "reopen": "incident_retriggered",
}

IS_OPEN = INCIDENTS.c.state.in_(OPEN_STATES)
INSERT_EVENT = insert(EVENTS)
INSERT_INCIDENT = insert(INCIDENTS)
# Both only touch an incident still open: on PostgreSQL another listener may have resolved
# it since this mail found it (no rows changed: WriteConflict, and the mail is redone).
APPEND = (
    update(INCIDENTS)
    .where(INCIDENTS.c.id == bindparam("target"), IS_OPEN)
    .values(
        mail_count=INCIDENTS.c.mail_count + 1,
        updated_at=bindparam("now"),
        last_mail_at=bindparam("now"),
    )
)
THREAD = (
    update(INCIDENTS)
    .where(INCIDENTS.c.id == bindparam("target"))
    .values(reply_count=INCIDENTS.c.reply_count + 1, updated_at=bindparam("now"))
)
RESOLVE_BY_MAIL = (
    update(INCIDENTS)
    .where(INCIDENTS.c.id == bindparam("target"), IS_OPEN)
    .values(state="resolved", resolved_by=bindparam("actor"), resolved_at=bindparam("now"))
)
# Built once: the pipeline asks for every append of a source with severity rules.
SEVERITY_OF = select(INCIDENTS.c.severity).where(INCIDENTS.c.id == bindparam("target"))
RAISE_SEVERITY = (
    update(INCIDENTS)
    .where(INCIDENTS.c.id == bindparam("target"))
    .values(severity=bindparam("severity"))
)
# Triage locks its incidents first, in id order: an operator on another host changing one
# of them at the same moment waits, then is told what state it found (never two accepts).
LOCK_FOR_TRIAGE = (
    select(
        INCIDENTS.c.id,
        INCIDENTS.c.state,
        INCIDENTS.c.severity,
        INCIDENTS.c.source_id,
        INCIDENTS.c.silenced_by,
    )  # fmt: skip
    .where(INCIDENTS.c.id.in_(bindparam("targets", expanding=True)))
    .order_by(INCIDENTS.c.id)
    .with_for_update()
)


class IncidentError(MailsirenError, ValueError):
    """A triage action that cannot be done; the message names the incident and why."""

    title = "Incident not changed"


# Timeline ------------------------------------------------------------------------------------


def record_event(
    connection: Connection,
    incident_id: int,
    now: datetime,
    kind: str,
    detail: str,
    *,
    actor: str | None = None,
    mail_id: int | None = None,
) -> int:
    """The only writer of timeline events; returns the event's id."""
    return connection.execute(
        INSERT_EVENT,
        dict(
            incident_id=incident_id, at=now, kind=kind, actor=actor, mail_id=mail_id,
            detail=detail,
        ),
    ).inserted_primary_key[0]  # fmt: skip


def _changed(result) -> None:
    if result.rowcount != 1:
        raise WriteConflict("the incident was resolved meanwhile by another writer")


# Mail-driven: the pipeline's create, append and resolve ----------------------------------


@dataclass(frozen=True)
class NewIncident:
    """What a mail opens: its source's settings and the mail's title and keys."""

    source_id: int
    severity: str
    title: str
    key: str | None
    subject_key: str
    escalation_policy: str | None


def open_incident(
    connection: Connection,
    new: NewIncident,
    mail_id: int | None,
    now: datetime,
    routing: Routing,
    *,
    silence: Covering | None = None,
    why: str | None = None,
) -> int:
    """A pending incident opened by a mail (or, `why` saying so, by serve: a heartbeat), its
    event, notifications and escalation; a silence covering it holds the paging until it
    ends (§10)."""
    incident_id = connection.execute(
        INSERT_INCIDENT,
        dict(
            source_id=new.source_id, state="pending", severity=new.severity, title=new.title,
            key=new.key, subject_key=new.subject_key, mail_count=1 if mail_id else 0,
            created_at=now, updated_at=now, silenced_by=silence.id if silence else None,
            last_mail_at=now if mail_id else None,
        ),
    ).inserted_primary_key[0]  # fmt: skip
    event = record_event(
        connection, incident_id, now, "created", why or f"opened by mail {mail_id}",
        mail_id=mail_id,
    )  # fmt: skip
    if silence is not None:
        record_event(
            connection, incident_id, now, "silence", f"silenced by #{silence.id} ({silence.reason})"
        )
        return incident_id
    queue_event(
        connection, incident_id=incident_id, event_id=event, kind="incident_opened",
        severity=new.severity, now=now, routing=routing,
    )  # fmt: skip
    start_escalation(connection, incident_id, new.escalation_policy, now)
    return incident_id


def append_mail(
    connection: Connection,
    incident_id: int,
    mail_id: int,
    now: datetime,
    routing: Routing,
    *,
    severity: str | None = None,
    silence: Covering | None = None,
) -> None:
    """One more mail on an open incident (WriteConflict if it was resolved meanwhile). A
    mail of a worse `severity` raises the incident's (never lowers it), so the retrigger goes
    to the new level's integrations; under a silence nothing is queued."""
    _changed(connection.execute(APPEND, {"target": incident_id, "now": now}))
    event = record_event(
        connection, incident_id, now, "mail", f"mail {mail_id} appended", mail_id=mail_id
    )
    raised_from = _raise_severity(connection, incident_id, severity, now, mail_id)
    if silence is not None:
        return
    if raised_from is not None and "incident_opened" in routing.notify_on:
        # The integrations of the new level heard nothing of it yet: they hear it now, once,
        # whether or not retriggers are in notify_on (§12).
        newly = tuple(
            integration for integration in routing.integrations
            if level_matches(integration[2], integration[3], severity)
            and not level_matches(integration[2], integration[3], raised_from)
        )  # fmt: skip
        queue_event(
            connection, incident_id=incident_id, event_id=event, kind="incident_retriggered",
            severity=severity, now=now, routing=Routing(("incident_retriggered",), newly),
        )  # fmt: skip
    queue_event(
        connection, incident_id=incident_id, event_id=event, kind="incident_retriggered",
        now=now, routing=routing,
    )  # fmt: skip


def _raise_severity(
    connection: Connection, incident_id: int, severity: str | None, now: datetime, mail_id: int
) -> str | None:
    """Raise the incident to the mail's severity if it is worse; the old one if raised."""
    if severity is None:
        return None
    milder = SEVERITIES[SEVERITIES.index(severity) + 1 :]  # the ones this is worse than
    old = connection.execute(SEVERITY_OF, {"target": incident_id}).scalar()
    if old not in milder:
        return None
    connection.execute(RAISE_SEVERITY, {"target": incident_id, "severity": severity})
    record_event(
        connection, incident_id, now, "severity", f"severity {old} → {severity}", mail_id=mail_id
    )
    return old


def resolve_by_mail(
    connection: Connection,
    incident_id: int,
    mail_id: int,
    now: datetime,
    routing: Routing,
    *,
    silence: Covering | None = None,
    actor: str = EMAIL_ACTOR,
    why: str = "resolved by a recovery mail",
) -> None:
    """A recovery mail resolves an open incident (WriteConflict if it was meanwhile); so
    does any mail to a source whose heartbeat incident is open (actor `heartbeat`)."""
    parameters = {"target": incident_id, "now": now, "actor": actor}
    _changed(connection.execute(RESOLVE_BY_MAIL, parameters))
    event = record_event(
        connection, incident_id, now, "resolved", why, actor=actor, mail_id=mail_id
    )
    stop_escalation(connection, incident_id, now, why)
    if silence is not None:
        return
    queue_event(
        connection, incident_id=incident_id, event_id=event, kind="incident_resolved",
        now=now, routing=routing,
    )  # fmt: skip


def thread_reply(connection: Connection, incident_id: int, mail_id: int, now: datetime) -> None:
    """A person's reply joins its incident (§13): counted apart from alert mails, in the
    timeline; no state change, no notification, and no effect on auto-resolve. The timeline
    names the mail, not its sender: readers show who wrote it from the mail itself."""
    connection.execute(THREAD, {"target": incident_id, "now": now})
    record_event(connection, incident_id, now, "reply", f"reply in mail {mail_id}", mail_id=mail_id)


def page_held_incident(connection: Connection, incident_id: int, now: datetime, why: str) -> None:
    """A silence that held an open incident has ended: page it now, as if it had just
    opened (its escalation starts, `incident_opened` goes out)."""
    row = connection.execute(
        select(INCIDENTS.c.severity, SOURCES.c.escalation_policy)
        .join(SOURCES, SOURCES.c.id == INCIDENTS.c.source_id)
        .where(INCIDENTS.c.id == incident_id)
    ).first()
    connection.execute(
        update(INCIDENTS).where(INCIDENTS.c.id == incident_id).values(silenced_by=None)
    )
    event = record_event(connection, incident_id, now, "silence", f"{why}: paged now")
    queue_event(
        connection, incident_id=incident_id, event_id=event, kind="incident_opened",
        severity=row.severity, now=now,
    )  # fmt: skip
    start_escalation(connection, incident_id, row.escalation_policy, now)


# Triage: accept, resolve, reopen by a person -------------------------------------------------


def triage(
    connection: Connection,
    actor: str,
    action: str,
    incident_ids: Sequence[int],
    now: datetime,
    *,
    skip_unchangeable: bool = False,
) -> list[int]:
    """Accept, resolve or reopen every incident, or none (IncidentError names the first
    that cannot be); the caller checked the actor's permission. With `skip_unchangeable`,
    the incidents gone or no longer in a state the action starts from (another person or
    process changed them since they were chosen) are left alone instead. The ids changed."""
    allowed_from, new_state = TRANSITIONS[action]
    found = {
        row.id: row for row in connection.execute(LOCK_FOR_TRIAGE, {"targets": list(incident_ids)})
    }
    changeable = []
    for incident_id in incident_ids:
        row = found.get(incident_id)
        if row is not None and row.state in allowed_from:
            changeable.append(incident_id)
        elif skip_unchangeable:
            continue
        elif row is None:
            raise IncidentError(f"no incident #{incident_id}; nothing was changed")
        else:
            raise IncidentError(
                f"#{incident_id} is {row.state}: it cannot be {EVENT_OF_ACTION[action]} from there"
                "; nothing was changed"
            )
    for incident_id in changeable:
        row = found[incident_id]
        values: dict = {"state": new_state, "updated_at": now}
        if action == "accept":
            values.update(accepted_by=actor, accepted_at=now)
        elif action == "resolve":
            values.update(resolved_by=actor, resolved_at=now)
        else:
            values.update(accepted_by=None, accepted_at=None, resolved_by=None, resolved_at=None)
        connection.execute(update(INCIDENTS).where(INCIDENTS.c.id == incident_id).values(values))
        event = record_event(
            connection, incident_id, now, EVENT_OF_ACTION[action], f"{EVENT_OF_ACTION[action]} by {actor}",
            actor=actor,
        )  # fmt: skip
        if row.silenced_by is not None:
            continue  # a silence holds it: it has paged no one, so it tells no one (§10)
        if action == "reopen":
            policy = connection.execute(
                select(SOURCES.c.escalation_policy).where(SOURCES.c.id == row.source_id)
            ).scalar()
            start_escalation(connection, incident_id, policy, now)
        else:
            stop_escalation(connection, incident_id, now, f"{EVENT_OF_ACTION[action]} by {actor}")
        queue_event(
            connection, incident_id=incident_id, event_id=event,
            kind=NOTIFICATION_OF_ACTION[action], severity=row.severity, now=now,
        )  # fmt: skip
    return changeable


# Notes and owners (§14) -----------------------------------------------------------------------


def _lock_incident(connection: Connection, incident_id: int):
    row = connection.execute(LOCK_FOR_TRIAGE, {"targets": [incident_id]}).first()
    if row is None:
        raise IncidentError(f"no incident #{incident_id}; nothing was changed")
    return row


def check_note(text: str) -> str:
    """A note as a person typed it: not empty, at most NOTE_LIMIT characters. Stored as
    given (line breaks kept); every reader shows it printable, and no header is made of it."""
    stripped = text.strip()
    if not stripped:
        raise IncidentError("the note is empty; write what you found")
    if len(stripped) > NOTE_LIMIT:
        raise IncidentError(
            f"the note has {len(stripped):,} characters: at most {NOTE_LIMIT:,}; "
            "shorten it, or write two"
        )
    return stripped


def add_note(connection: Connection, actor: str, incident_id: int, text: str, now: datetime) -> int:
    """A note on the incident's timeline, by `actor` (who has `triage`); the event's id."""
    note = check_note(text)
    _lock_incident(connection, incident_id)
    connection.execute(
        update(INCIDENTS).where(INCIDENTS.c.id == incident_id).values(updated_at=now)
    )
    return record_event(connection, incident_id, now, "note", note, actor=actor)


def assign(
    connection: Connection, actor: str, incident_id: int, assignee: str | None, now: datetime
) -> bool:
    """Give the incident an owner (a user's name, checked by the caller) or none; False when
    it already had that one (nothing written)."""
    row = _lock_incident(connection, incident_id)
    before = connection.execute(
        select(INCIDENTS.c.assignee).where(INCIDENTS.c.id == row.id)
    ).scalar()
    if before == assignee:
        return False
    connection.execute(
        update(INCIDENTS)
        .where(INCIDENTS.c.id == incident_id)
        .values(assignee=assignee, updated_at=now)
    )
    if assignee is None:
        detail = f"unassigned (was {before}) by {actor}"
    elif before:
        detail = f"assigned to {assignee} (was {before}) by {actor}"
    else:
        detail = f"assigned to {assignee} by {actor}"
    record_event(connection, incident_id, now, "assigned", detail, actor=actor)
    return True


# Timeouts (§14): decided once, by the UPDATE that still finds the state it timed out -----


def time_out_acceptance(
    connection: Connection, incident_id: int, minutes: int, now: datetime
) -> bool:
    """An incident accepted `minutes` ago and not resolved goes back to pending, and its
    escalation starts again. False when another serve, or a person, changed it first."""
    changed = connection.execute(
        update(INCIDENTS)
        .where(
            INCIDENTS.c.id == incident_id,
            INCIDENTS.c.state == "accepted",
            INCIDENTS.c.accepted_at <= now - timedelta(minutes=minutes),
        )
        .values(state="pending", accepted_by=None, accepted_at=None, updated_at=now)
    ).rowcount
    if changed != 1:
        return False
    row = connection.execute(
        select(INCIDENTS.c.severity, INCIDENTS.c.silenced_by, SOURCES.c.escalation_policy)
        .join(SOURCES, SOURCES.c.id == INCIDENTS.c.source_id)
        .where(INCIDENTS.c.id == incident_id)
    ).first()
    event = record_event(
        connection, incident_id, now, "timeout",
        f"accepted {minutes} minutes ago and not resolved: pending again",
        actor=TIMEOUT_ACTOR,
    )  # fmt: skip
    if row.silenced_by is None:
        start_escalation(connection, incident_id, row.escalation_policy, now)
        queue_event(
            connection, incident_id=incident_id, event_id=event, kind="incident_retriggered",
            severity=row.severity, now=now,
        )  # fmt: skip
    return True


def auto_resolve(connection: Connection, incident_id: int, minutes: int, now: datetime) -> bool:
    """An open incident with no alert mail for `minutes` resolves (actor `timeout`). False
    when another serve resolved it first, or a mail came meanwhile."""
    changed = connection.execute(
        update(INCIDENTS)
        .where(
            INCIDENTS.c.id == incident_id,
            IS_OPEN,
            INCIDENTS.c.last_mail_at <= now - timedelta(minutes=minutes),
        )
        .values(state="resolved", resolved_by=TIMEOUT_ACTOR, resolved_at=now, updated_at=now)
    ).rowcount
    if changed != 1:
        return False
    why = f"no new mail for {minutes} minutes: resolved"
    event = record_event(connection, incident_id, now, "resolved", why, actor=TIMEOUT_ACTOR)
    stop_escalation(connection, incident_id, now, why)
    row = connection.execute(
        select(INCIDENTS.c.severity, INCIDENTS.c.silenced_by).where(INCIDENTS.c.id == incident_id)
    ).first()
    if row.silenced_by is None:
        queue_event(
            connection, incident_id=incident_id, event_id=event, kind="incident_resolved",
            severity=row.severity, now=now,
        )  # fmt: skip
    return True


# Escalation runs: started and stopped inside the incident change's own transaction ---------


def _escalation_event(connection: Connection, incident_id: int, now: datetime, kind: str,
                      detail: str) -> int:  # fmt: skip
    return record_event(connection, incident_id, now, kind, detail, actor=ESCALATION_ACTOR)


def start_escalation(
    connection: Connection, incident_id: int, policy_name: str | None, now: datetime
) -> None:
    """Start (or restart, on reopen) the source's policy for an incident."""
    if not policy_name:
        return
    policy = connection.execute(select(POLICIES).where(POLICIES.c.name == policy_name)).first()
    connection.execute(delete(RUNS).where(RUNS.c.incident_id == incident_id))
    if policy is None:
        _escalation_event(
            connection, incident_id, now, "escalation",
            f"the source's escalation policy {policy_name!r} does not exist: nobody is paged",
        )  # fmt: skip
        return
    steps = json.loads(policy.steps)
    due = now + timedelta(minutes=steps[0]["delay_minutes"])
    connection.execute(
        insert(RUNS).values(
            incident_id=incident_id, policy_id=policy.id, step=0, round=0, due_at=due
        )
    )
    _escalation_event(
        connection, incident_id, now, "escalation",
        f"policy {policy_name}: step 1 due at {due:%H:%M:%S} UTC",
    )  # fmt: skip


def stop_escalation(connection: Connection, incident_id: int, now: datetime, why: str) -> None:
    """Accept or resolve stops the escalation; the timeline says so if one was running."""
    stopped = connection.execute(delete(RUNS).where(RUNS.c.incident_id == incident_id)).rowcount
    if stopped:
        _escalation_event(connection, incident_id, now, "escalation", f"escalation stopped: {why}")


@dataclass(frozen=True)
class StepTaken:
    incident_id: int
    policy: str
    step: int  # 1-based
    paged: tuple[str, ...]  # the addresses: in memory only, never in a log or a timeline
    whom: str  # who was paged, said without an address: "bob and 1 address of the policy"
    finished: bool


def take_escalation_step(
    connection: Connection, incident_id: int, now: datetime
) -> StepTaken | None:
    """Page the due step of the incident's run and move the run on; None if there was none."""
    # Another serve's notifier taking the same step holds the row: skip it, it pages once.
    run = connection.execute(
        select(RUNS, INCIDENTS.c.state, INCIDENTS.c.severity)
        .join(INCIDENTS, INCIDENTS.c.id == RUNS.c.incident_id)
        .where(RUNS.c.incident_id == incident_id, RUNS.c.due_at <= now)
        .with_for_update(skip_locked=True, of=RUNS)
    ).first()
    if run is None:
        return None  # stopped, taken meanwhile, or being taken by another notifier
    if run.state != "pending":
        stop_escalation(connection, incident_id, now, f"the incident is {run.state}")
        return None
    policy = connection.execute(select(POLICIES).where(POLICIES.c.id == run.policy_id)).first()
    steps = json.loads(policy.steps)
    index = min(run.step, len(steps) - 1)
    step = steps[index]
    pages, skipped, named, missing, by_address = [], [], [], [], 0
    why = f"escalation {policy.name} step {index + 1}"
    for target in step["targets"]:
        schedule = schedule_target(target)
        if schedule is not None:  # §18: whoever is on call now, never the user at save
            on_call = on_call_now(connection, schedule, now)
            if on_call is None:
                missing.append(schedule)
                continue
            via = f"{on_call.shift.user} via schedule {schedule}"
            if on_call.email:
                pages.append(Page(on_call.email, policy.owner_id, f"{why} via schedule {schedule}"))
                named.append(via)
            else:
                skipped.append(via)
            continue
        if "@" in target:
            pages.append(Page(target, policy.owner_id, why))
            by_address += 1
            continue
        email = connection.execute(select(USERS.c.email).where(USERS.c.name == target)).scalar()
        if email:
            pages.append(Page(email, policy.owner_id, f"{why} ({target})"))
            named.append(target)
        else:
            skipped.append(target)
    round_text = f", round {run.round + 1} of {policy.repeat + 1}" if policy.repeat else ""
    detail = f"policy {policy.name}: step {index + 1} of {len(steps)}{round_text}"
    event_id = _escalation_event(connection, incident_id, now, "escalated", detail)
    queued = queue_event(
        connection, incident_id=incident_id, event_id=event_id, kind="incident_escalated",
        severity=run.severity, now=now, pages=pages,
    )  # fmt: skip
    paged = tuple(page.address for page in pages)
    # Addresses are encrypted at rest; the timeline is not: it names users, and counts the
    # policy's own addresses (the delivery log, decrypted for whoever may see it, has them).
    whom = _whom(named, by_address)
    notes = [f"paged {whom}" if paged else "nobody to page"]
    if skipped:
        has = "have" if len(skipped) > 1 else "has"
        notes.append(f"{', '.join(skipped)} {has} no email address (mailsiren users set)")
    if missing:
        notes.append(f"no schedule {', '.join(missing)} (mailsiren schedules list)")
    if pages and not queued:
        notes.append("no email: incident_escalated is not in the organization's notify_on")
    # The event is written before the pages are queued (they point at it); what the pages
    # did is known only after: the same event's detail says it.
    connection.execute(
        update(EVENTS).where(EVENTS.c.id == event_id).values(detail=f"{detail}: {'; '.join(notes)}")
    )
    following, round_number = index + 1, run.round
    if following >= len(steps):
        following, round_number = 0, run.round + 1
    finished = round_number > policy.repeat
    if finished:
        connection.execute(delete(RUNS).where(RUNS.c.incident_id == incident_id))
        _escalation_event(
            connection, incident_id, now, "escalation", f"policy {policy.name}: every step taken"
        )
    else:
        due = now + timedelta(minutes=steps[following]["delay_minutes"])
        connection.execute(
            update(RUNS).where(RUNS.c.incident_id == incident_id)
            .values(step=following, round=round_number, due_at=due)
        )  # fmt: skip
    return StepTaken(incident_id, policy.name, index + 1, paged, whom, finished)


def _whom(names: list[str], addresses: int) -> str:
    said = list(names)
    if addresses:
        said.append(f"{addresses} address{'es' if addresses > 1 else ''} of the policy")
    if not said:
        return "nobody"
    return said[0] if len(said) == 1 else f"{', '.join(said[:-1])} and {said[-1]}"
