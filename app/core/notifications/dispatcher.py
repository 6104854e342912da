"""The dispatcher: sends due outbox rows with their owner's SMTP configuration, and retries.

Each owner's due mails go out over one SMTP session (connection reuse). Network errors and
4xx replies are retried with exponential backoff for up to 24 hours; a 5xx reply fails the
delivery at once. Every attempt is kept with the server's reply. Storm control holds back
what exceeds the per-address limit and sends it as one summary when the window closes.

Delivery is at least once: a crash between the server's 250 and the commit that records it
sends that mail again after the restart, with the same Message-ID.

Several dispatchers may share one database (a team's serve processes on PostgreSQL): each
run first claims its rows (FOR UPDATE SKIP LOCKED, then a lease written on the rows), so
one row is sent by one dispatcher. The lease is renewed while the run goes on; a dispatcher
that died loses its rows when the lease runs out, or at once when its node starts again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib
from sqlalchemy import and_, func, insert, or_, select, update

from app.core.intake.mail import parse_mail
from app.core.notifications.deliveries import troubleshooting_hint
from app.core.notifications.notice import (
    IncidentNotice,
    build_message,
    first_lines_of,
    summary_body,
)
from app.core.notifications.org import OrgView, read_org
from app.core.notifications.routing import message_id_domain
from app.core.sending.choice import RecipientRefused, SendingChoice, choose_configuration
from app.core.sending.shared import SharedConfigState
from app.core.sending.smtp import (
    DATA,
    MAIL_FROM,
    RCPT_TO,
    StageFailed,
    explain_failure,
    open_sending_session,
)
from app.core.store.db import Clock, Database, as_utc, utc_now
from app.core.store.models import (
    AlertSource,
    Delivery,
    DeliveryAttempt,
    Incident,
    Mail,
    MailOutcome,
    TimelineEvent,
)
from app.core.users import user_by_id

log = logging.getLogger("mailsiren.dispatch")

RETRY_FOR = timedelta(hours=24)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
BATCH = 500  # due rows read per run
CHUNK = 50  # mails sent between two commits of their results
DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]
ATTEMPTS = DeliveryAttempt.__table__  # type: ignore[attr-defined]
INCIDENTS = Incident.__table__  # type: ignore[attr-defined]
SOURCES = AlertSource.__table__  # type: ignore[attr-defined]
OUTCOMES = MailOutcome.__table__  # type: ignore[attr-defined]
MAILS = Mail.__table__  # type: ignore[attr-defined]
EVENTS = TimelineEvent.__table__  # type: ignore[attr-defined]
LEASE = timedelta(minutes=5)  # a claim's life; renewed when half of it has gone
_WAITING = DELIVERIES.c.status.in_(("queued", "retrying"))
DUE = (
    select(DELIVERIES).where(_WAITING, DELIVERIES.c.held_until.is_(None)).order_by(DELIVERIES.c.id)
)
RELEASED = select(DELIVERIES).where(_WAITING, DELIVERIES.c.held_until.is_not(None))


def _unclaimed(now: datetime):
    return or_(DELIVERIES.c.claimed_until.is_(None), DELIVERIES.c.claimed_until < now)


def default_node() -> str:
    """Who claims rows when nobody says: this host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


SENT = "sent"
TEMPORARY = "temporary"
PERMANENT = "permanent"


def backoff(attempts: int) -> timedelta:
    """30 s after the first failure, doubling, at most an hour between tries."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_WAIT)


@dataclass(frozen=True)
class Outgoing:
    """One mail to send; a storm summary carries several deliveries."""

    ids: tuple[int, ...]
    address: str
    owner_id: int | None
    message: EmailMessage
    created_at: datetime
    attempts: int


@dataclass(frozen=True)
class AttemptResult:
    outcome: str  # SENT, TEMPORARY or PERMANENT
    stage: str
    reply: str
    hint: str = ""


class Dispatcher:
    """Runs in `serve`: call `run_once()` whenever there may be work; it never raises for a
    failed delivery (that is recorded), only for a broken database."""

    def __init__(
        self,
        database: Database,
        shared_config: Callable[[], SharedConfigState],
        *,
        clock: Clock = utc_now,
        stage_timeout: float = 30.0,
        local_hostname: str | None = None,
        node: str | None = None,
    ) -> None:
        self.database = database
        self.shared_config = shared_config
        self.clock = clock
        self.stage_timeout = stage_timeout
        self.local_hostname = local_hostname
        # One name per serve (host and data folder): its claims carry it, so that a
        # restarted notifier takes back at once what its predecessor had claimed.
        self.node = node or default_node()
        self.claim: str | None = None  # this run's claim on its rows
        self.lease_until: datetime | None = None

    # Claims -------------------------------------------------------------------------

    def release_own_claims(self) -> int:
        """At start: the rows this node claimed before (it died mid-run) are free again."""
        with self.database.write() as session:
            return session.execute(
                update(DELIVERIES)
                .where(
                    _WAITING, DELIVERIES.c.claimed_by.startswith(f"{self.node}/", autoescape=True)
                )
                .values(claimed_by=None, claimed_until=None)
            ).rowcount

    def _claim_due(self, now: datetime) -> bool:
        """Claim the due and released rows no other dispatcher holds: True if any."""
        claim = f"{self.node}/{uuid.uuid4().hex}"
        due = and_(DELIVERIES.c.held_until.is_(None), DELIVERIES.c.next_attempt_at <= now)
        released = DELIVERIES.c.held_until <= now  # storm control's window has closed
        with self.database.write() as session:
            connection = session.connection()
            ids = (
                connection.execute(
                    select(DELIVERIES.c.id)
                    .where(_WAITING, _unclaimed(now), or_(due, released))
                    .order_by(DELIVERIES.c.id)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
                .scalars()
                .all()
            )
            if ids:
                connection.execute(
                    update(DELIVERIES)
                    .where(DELIVERIES.c.id.in_(ids))
                    .values(claimed_by=claim, claimed_until=now + LEASE)
                )
        self.claim, self.lease_until = (claim, now + LEASE) if ids else (None, None)
        return bool(ids)

    def _keep_claim(self) -> None:
        """Renew the lease once half of it has gone: a long run keeps its rows."""
        now = self.clock()
        if self.claim is None or self.lease_until is None or now < self.lease_until - LEASE / 2:
            return
        with self.database.write() as session:
            session.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.claimed_by == self.claim)
                .values(claimed_until=now + LEASE)
            )
        self.lease_until = now + LEASE

    def _release_claim(self) -> None:
        """The run is over: what it did not record (held back, or a failed run) is free."""
        if self.claim is None:
            return
        with self.database.write() as session:
            session.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.claimed_by == self.claim)
                .values(claimed_by=None, claimed_until=None)
            )
        self.claim = self.lease_until = None

    # What is due ---------------------------------------------------------------------

    def next_wakeup(self) -> datetime | None:
        """The earliest moment a waiting delivery becomes due (retry or storm window)."""
        with self.database.read() as session:
            row = session.execute(
                select(
                    func.min(DELIVERIES.c.next_attempt_at).filter(
                        DELIVERIES.c.held_until.is_(None)
                    ),
                    func.min(DELIVERIES.c.held_until),
                ).where(_WAITING, _unclaimed(self.clock()))
            ).first()
        moments = [as_utc(moment) for moment in row or () if moment is not None]
        return min(moments) if moments else None

    async def run_once(self) -> int:
        """Send everything due now that no other dispatcher holds; returns how many mails
        were attempted."""
        now = self.clock()
        if not self._claim_due(now):
            return 0
        try:
            return await self._send_claimed(now)
        finally:
            self._release_claim()

    async def _send_claimed(self, now: datetime) -> int:
        ours = DELIVERIES.c.claimed_by == self.claim
        with self.database.read() as session:
            connection = session.connection()
            org = read_org(connection)
            due = connection.execute(DUE.where(ours)).all()
            released = connection.execute(RELEASED.where(ours)).all()
            notices = _notices(connection, [*due, *released])
        outgoing = self._summaries(released, notices, org, now)
        outgoing += self._hold_storms(due, notices, org, now)
        by_owner: dict[int | None, list[Outgoing]] = defaultdict(list)
        for mail in outgoing:
            by_owner[mail.owner_id].append(mail)
        for owner_id, mails in by_owner.items():
            await self._send_for_owner(owner_id, mails)
        return len(outgoing)

    def _hold_storms(self, due, notices, org: OrgView, now: datetime) -> list[Outgoing]:
        """Rows within the per-address limit become mails; the rest wait for a summary."""
        window = timedelta(minutes=org.storm_window_minutes)
        hashes = {row.address_hash for row in due}
        with self.database.read() as session:
            recent = {
                digest: (count, as_utc(oldest))
                for digest, count, oldest in session.execute(
                    select(
                        DELIVERIES.c.address_hash,
                        func.count(DELIVERIES.c.message_id.distinct()),
                        func.min(DELIVERIES.c.sent_at),
                    )
                    .where(
                        DELIVERIES.c.address_hash.in_(hashes),
                        DELIVERIES.c.sent_at > now - window,
                    )
                    .group_by(DELIVERIES.c.address_hash)
                ).all()
            }
        outgoing, held = [], []
        counts = {digest: count for digest, (count, _) in recent.items()}
        for row in due:
            if counts.get(row.address_hash, 0) < org.storm_limit:
                counts[row.address_hash] = counts.get(row.address_hash, 0) + 1
                notice = notices.get(row.id)
                outgoing.append(_single(row, notice, now))
            else:
                oldest = recent.get(row.address_hash, (0, now))[1]
                held.append((row.id, max(oldest + window, now + timedelta(seconds=1))))
        if held:
            with self.database.write() as session:
                for delivery_id, until in held:
                    session.execute(
                        update(DELIVERIES)
                        .where(DELIVERIES.c.id == delivery_id)
                        .values(
                            held_until=until,
                            hint=(
                                f"storm control: more than {org.storm_limit} mails to this "
                                f"address in {org.storm_window_minutes} min; it goes out in "
                                f"one summary at {until:%H:%M:%S} UTC"
                            ),
                        )
                    )
        return outgoing

    def _summaries(self, released, notices, org: OrgView, now: datetime) -> list[Outgoing]:
        groups: dict[tuple[str, int | None], list] = defaultdict(list)
        for row in released:
            groups[(row.address_hash, row.owner_id)].append(row)
        outgoing = []
        for rows in groups.values():
            if len(rows) == 1:
                outgoing.append(_single(rows[0], notices.get(rows[0].id), now))
                continue
            first = rows[0]
            covered = [notices[row.id] for row in rows if row.id in notices]
            message = build_message(
                to=first.address,
                subject=f"[mailsiren] {len(rows)} notifications held back by storm control",
                body=summary_body(first.address, covered, org.storm_window_minutes),
                message_id=make_msgid("s", domain=message_id_domain()),
                now=now,
            )
            outgoing.append(
                Outgoing(
                    tuple(row.id for row in rows), first.address, first.owner_id, message,
                    min(as_utc(row.created_at) for row in rows), max(row.attempts for row in rows),
                )
            )  # fmt: skip
        return outgoing

    # Sending ------------------------------------------------------------------------

    async def _send_for_owner(self, owner_id: int | None, mails: list[Outgoing]) -> None:
        owner = user_by_id(self.database, owner_id)
        if owner is None:
            result = AttemptResult(
                PERMANENT, "configuration", "not sent: the integration's owner no longer exists",
                "Edit the integration (or escalation policy) so that a current user owns it; "
                "their SMTP configuration sends its mail.",
            )  # fmt: skip
            self._record([(mail, result) for mail in mails])
            return
        choice = choose_configuration(self.database, owner, self.shared_config())
        if choice.settings is None:
            result = AttemptResult(
                TEMPORARY, "configuration", f"not sent: {owner.name} has no usable SMTP "
                "configuration; retried until one is set", choice.reason,
            )  # fmt: skip
            self._record([(mail, result) for mail in mails])
            return
        sendable, refused = [], []
        for mail in mails:
            try:
                choice.check_recipients([mail.address])
                sendable.append(mail)
            except RecipientRefused as error:
                refused.append(
                    (
                        mail,
                        AttemptResult(
                            PERMANENT, "Allowed-To", str(error), _allowed_to_hint(owner.name)
                        ),
                    )
                )
        if refused:
            self._record(refused)
        if sendable:
            await self._send_session(choice, sendable)

    async def _send_session(self, choice: SendingChoice, mails: list[Outgoing]) -> None:
        settings = choice.settings
        assert settings is not None
        try:
            client = await open_sending_session(
                settings, stage_timeout=self.stage_timeout, local_hostname=self.local_hostname
            )
        except StageFailed as failed:
            stage = failed.result
            code = _code_of(stage.reply)
            outcome = PERMANENT if code is not None and code >= 500 else TEMPORARY
            result = AttemptResult(outcome, stage.stage, stage.reply, stage.hint)
            self._record([(mail, result) for mail in mails])
            return
        try:
            for start in range(0, len(mails), CHUNK):
                chunk = mails[start : start + CHUNK]
                results = []
                for index, mail in enumerate(chunk):
                    result = await self._send_one(client, choice, mail)
                    results.append((mail, result))
                    if result.outcome == TEMPORARY and result.stage == "connection":
                        # The session is gone: the rest of the chunk waits for a retry.
                        results += [(rest, result) for rest in chunk[index + 1 :]]
                        self._record(results)
                        rest = mails[start + CHUNK :]
                        if rest:
                            self._record([(later, result) for later in rest])
                        return
                self._record(results)
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await client.quit()
        finally:
            client.close()

    async def _send_one(
        self, client: aiosmtplib.SMTP, choice: SendingChoice, mail: Outgoing
    ) -> AttemptResult:
        settings = choice.settings
        assert settings is not None
        self._keep_claim()
        message = mail.message
        try:
            sender = choice.stamp_sender(message)
        except ValueError as error:
            return AttemptResult(PERMANENT, MAIL_FROM, f"not sent: {error}", choice.reason)
        stage = MAIL_FROM
        try:
            await client.mail(sender)
            stage = RCPT_TO
            await client.rcpt(mail.address)
            stage = DATA
            reply = await client.data(message.as_bytes())
            return AttemptResult(
                SENT,
                DATA,
                f"{reply.code} {reply.message.splitlines()[0] if reply.message else ''}".strip(),
            )
        except aiosmtplib.SMTPResponseException as error:
            text, hint = explain_failure(stage, error, settings, self.stage_timeout)
            outcome = PERMANENT if error.code >= 500 else TEMPORARY
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await client.rset()  # a dead session shows at the next mail's MAIL FROM
            return AttemptResult(outcome, stage, text, troubleshooting_hint(text) or hint)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            text, hint = explain_failure(stage, error, settings, self.stage_timeout)
            return AttemptResult(TEMPORARY, "connection", f"at {stage}: {text}", hint)
        except Exception as error:  # noqa: BLE001 - one bad mail must not block the outbox
            log.exception("delivery %s could not be sent", mail.ids)
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await client.rset()  # leave the session clean for the next mail
            return AttemptResult(
                PERMANENT, stage, f"not sent: {type(error).__name__}: {error}",
                "mailsiren could not build or send this mail; the serve log has the details.",
            )  # fmt: skip

    # Recording ----------------------------------------------------------------------

    def _record(self, results: list[tuple[Outgoing, AttemptResult]]) -> None:
        """One transaction: the attempt rows and each delivery's new status."""
        now = self.clock()
        with self.database.write() as session:
            connection = session.connection()
            for mail, result in results:
                attempts = mail.attempts + 1
                values: dict = {"attempts": attempts, "last_reply": result.reply[:2000]}
                values.update(claimed_by=None, claimed_until=None)
                values["hint"] = result.hint or troubleshooting_hint(result.reply)
                if result.outcome == SENT:
                    values.update(
                        status="sent",
                        sent_at=now,
                        held_until=None,
                        hint="",
                        message_id=mail.message["Message-ID"],
                    )
                elif result.outcome == PERMANENT:
                    values.update(status="failed", held_until=None)
                else:
                    wait = backoff(attempts)
                    if now + wait > as_utc(mail.created_at) + RETRY_FOR:
                        values.update(
                            status="failed",
                            held_until=None,
                            last_reply=f"gave up after 24 h of retries; last reply: {result.reply}"[
                                :2000
                            ],
                        )
                    else:
                        values.update(status="retrying", next_attempt_at=now + wait)
                        if len(mail.ids) > 1:  # a summary retries as a summary
                            values["held_until"] = now + wait
                for delivery_id in mail.ids:
                    connection.execute(
                        update(DELIVERIES).where(DELIVERIES.c.id == delivery_id).values(**values)
                    )
                    connection.execute(
                        insert(ATTEMPTS).values(
                            delivery_id=delivery_id, at=now, outcome=result.outcome,
                            stage=result.stage, reply=result.reply[:2000],
                        )
                    )  # fmt: skip
        for mail, result in results:
            if result.outcome != SENT:
                log.warning(
                    "delivery %s to %s: %s (%s)",
                    mail.ids,
                    mail.address,
                    result.reply,
                    result.outcome,
                )


def _single(row, notice: IncidentNotice | None, now: datetime) -> Outgoing:
    if notice is None:  # the incident went away meanwhile (its source was deleted)
        notice = IncidentNotice(
            row.incident_id, "(deleted incident)", "?", "info", "?", now, None, row.event, "", ()
        )
    message = build_message(
        to=row.address,
        subject=notice.subject,
        body=notice.body(),
        message_id=row.message_id,
        now=now,
    )
    return Outgoing(
        (row.id,), row.address, row.owner_id, message, as_utc(row.created_at), row.attempts
    )


def _notices(connection, rows) -> dict[int, IncidentNotice]:
    """What each delivery's mail says (by delivery id), read once per run."""
    incident_ids = {row.incident_id for row in rows}
    if not incident_ids:
        return {}
    incidents = connection.execute(
        select(INCIDENTS, SOURCES.c.name.label("source_name"))
        .join(SOURCES, SOURCES.c.id == INCIDENTS.c.source_id)
        .where(INCIDENTS.c.id.in_(incident_ids))
    ).all()
    first_mails = connection.execute(
        select(OUTCOMES.c.incident_id, func.min(OUTCOMES.c.mail_id))
        .where(OUTCOMES.c.incident_id.in_(incident_ids))
        .group_by(OUTCOMES.c.incident_id)
    ).all()
    first_lines = {}
    for incident_id, mail_id in first_mails:
        raw = connection.execute(select(MAILS.c.raw).where(MAILS.c.id == mail_id)).scalar()
        first_lines[incident_id] = first_lines_of(parse_mail(raw).body) if raw else ()
    details = dict(
        connection.execute(
            select(EVENTS.c.id, EVENTS.c.detail).where(
                EVENTS.c.id.in_({row.event_id for row in rows})
            )
        ).all()
    )
    by_id = {incident.id: incident for incident in incidents}
    notices = {}
    for row in rows:
        incident = by_id.get(row.incident_id)
        if incident is None:
            continue
        notices[row.id] = IncidentNotice(
            incident.id, incident.title, incident.source_name, incident.severity, incident.state,
            incident.created_at, incident.key, row.event, details.get(row.event_id, ""),
            first_lines.get(incident.id, ()),
        )  # fmt: skip
    return notices


def _code_of(reply: str) -> int | None:
    head = reply[:3]
    return int(head) if head.isdigit() else None


def _allowed_to_hint(owner: str) -> str:
    return (
        f"The shared configuration that sends {owner}'s mail admits only the recipients its "
        "Allowed-To patterns match. Ask an administrator to add a pattern, or give the "
        "integration an owner with personal SMTP settings."
    )
