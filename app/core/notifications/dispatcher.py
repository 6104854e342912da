"""The sending loop: each run claims due outbox rows and sends them over SMTP sessions."""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

import aiosmtplib
from sqlalchemy import func, select

from app.core.intake.mail import parse_mail
from app.core.notifications.notice import IncidentNotice, first_lines_of
from app.core.notifications.org import read_org
from app.core.notifications.outbox import (
    PERMANENT,
    SENT,
    TEMPORARY,
    AttemptResult,
    Outbox,
    Outgoing,
    default_node,
)
from app.core.notifications.replies import reply_to_address, reply_token
from app.core.notifications.storm import hold_storms, summaries
from app.core.sending.choice import RecipientRefused, SendingChoice, choose_configuration
from app.core.sending.diagnosis import reply_code
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
    Incident,
    Mail,
    MailOutcome,
    TimelineEvent,
)
from app.core.store.secrets import keyring_of
from app.core.users import user_by_id

log = logging.getLogger("mailsiren.dispatch")

CHUNK = 50  # mails sent between two commits of their results
INCIDENTS = Incident.__table__  # type: ignore[attr-defined]
SOURCES = AlertSource.__table__  # type: ignore[attr-defined]
OUTCOMES = MailOutcome.__table__  # type: ignore[attr-defined]
MAILS = Mail.__table__  # type: ignore[attr-defined]
EVENTS = TimelineEvent.__table__  # type: ignore[attr-defined]
DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]


class Dispatcher:
    """Runs in `serve`: call `run_once()` whenever there may be work; it never raises for a
    failed delivery (that is recorded), only for a broken database.

    Each owner's due mails go out over one SMTP session (connection reuse), with the owner's
    SMTP configuration; the outbox (outbox.py) decides what is due and what an attempt's
    result does, storm control (storm.py) what goes out as a summary. Delivery is at least
    once: a crash between the server's 250 and the commit that records it sends that mail
    again after the restart, with the same Message-ID.
    """

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
        self.outbox = Outbox(database, node=self.node, clock=clock)

    def release_own_claims(self) -> int:
        """At start: the rows this node claimed before (it died mid-run) are free again."""
        return self.outbox.release_own_claims()

    def next_wakeup(self) -> datetime | None:
        """The earliest moment a waiting delivery becomes due (retry or storm window)."""
        return self.outbox.next_wakeup()

    async def run_once(self) -> int:
        """Send everything due now that no other dispatcher holds; returns how many mails
        were attempted."""
        now = self.clock()
        if not self.outbox.claim_due(now):
            return 0
        try:
            return await self._send_claimed(now)
        finally:
            self.outbox.release_claim()

    async def _send_claimed(self, now: datetime) -> int:
        with self.database.read() as session:
            connection = session.connection()
            org = read_org(connection)
            due, released = self.outbox.claimed_rows(connection)
            notices = _notices(connection, [*due, *released], org.reply_address)
        outgoing = summaries(released, notices, org, now)
        outgoing += hold_storms(self.database, due, notices, org, now)
        by_owner: dict[int | None, list[Outgoing]] = defaultdict(list)
        for mail in outgoing:
            by_owner[mail.owner_id].append(mail)
        for owner_id, mails in by_owner.items():
            await self._send_for_owner(owner_id, mails)
        return len(outgoing)

    # Sending ------------------------------------------------------------------------

    async def _send_for_owner(self, owner_id: int | None, mails: list[Outgoing]) -> None:
        owner = user_by_id(self.database, owner_id)
        if owner is None:
            result = AttemptResult(
                PERMANENT, "configuration", "not sent: the integration's owner no longer exists",
                "Edit the integration (or escalation policy) so that a current user owns it; "
                "their SMTP configuration sends its mail.",
            )  # fmt: skip
            self.outbox.record([(mail, result) for mail in mails])
            return
        choice = choose_configuration(self.database, owner, self.shared_config())
        if choice.settings is None:
            result = AttemptResult(
                TEMPORARY, "configuration", f"not sent: {owner.name} has no usable SMTP "
                "configuration; retried until one is set", choice.reason,
            )  # fmt: skip
            self.outbox.record([(mail, result) for mail in mails])
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
            self.outbox.record(refused)
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
            code = reply_code(stage.reply)
            outcome = PERMANENT if code is not None and code >= 500 else TEMPORARY
            result = AttemptResult(outcome, stage.stage, stage.reply, stage.hint)
            self.outbox.record([(mail, result) for mail in mails])
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
                        self.outbox.record(results)
                        rest = mails[start + CHUNK :]
                        if rest:
                            self.outbox.record([(later, result) for later in rest])
                        return
                self.outbox.record(results)
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await client.quit()
        finally:
            client.close()

    async def _send_one(
        self, client: aiosmtplib.SMTP, choice: SendingChoice, mail: Outgoing
    ) -> AttemptResult:
        settings = choice.settings
        assert settings is not None
        self.outbox.keep_claim()
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
            return AttemptResult(outcome, stage, text, hint)
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


def _notices(connection, rows, reply_address: str | None = None) -> dict[int, IncidentNotice]:
    """What each delivery's mail says (by delivery id), read once per run: with its
    Reply-To token when the organization has a reply address (§15), and the first mail sent
    to that address about the incident, which later ones thread on."""
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
        first_lines[incident_id] = first_lines_of(_text_of(connection, mail_id))
    details = dict(
        connection.execute(
            select(EVENTS.c.id, EVENTS.c.detail).where(
                EVENTS.c.id.in_({row.event_id for row in rows})
            )
        ).all()
    )
    by_id = {incident.id: incident for incident in incidents}
    latest_notes = _latest_notes(connection, incident_ids)
    roots = _thread_roots(connection, incident_ids)
    keyring = keyring_of(connection.dialect)
    notices = {}
    for row in rows:
        incident = by_id.get(row.incident_id)
        if incident is None:
            continue
        notices[row.id] = IncidentNotice(
            incident.id, incident.title, incident.source_name, incident.severity, incident.state,
            incident.created_at, incident.key, row.event, details.get(row.event_id, ""),
            first_lines.get(incident.id, ()), incident.assignee, latest_notes.get(incident.id),
            reply_to=reply_to_address(
                reply_address, reply_token(keyring, incident.id, row.event_id, row.address)
            ) if reply_address else None,
            thread_root=next(
                (message_id for delivery_id, message_id in
                 roots.get((incident.id, row.address_hash), ()) if delivery_id < row.id),
                None,
            ),
        )  # fmt: skip
    return notices


def _thread_roots(connection, incident_ids) -> dict[tuple[int, str], list[tuple[int, str]]]:
    """The mails sent about each incident, by (incident, address hash), oldest first."""
    rows = connection.execute(
        select(
            DELIVERIES.c.id, DELIVERIES.c.incident_id, DELIVERIES.c.address_hash,
            DELIVERIES.c.message_id,
        )
        .where(
            DELIVERIES.c.incident_id.in_(incident_ids), DELIVERIES.c.status == "sent",
            DELIVERIES.c.message_id.is_not(None),
        )
        .order_by(DELIVERIES.c.id)
    ).all()  # fmt: skip
    roots: dict[tuple[int, str], list[tuple[int, str]]] = defaultdict(list)
    for row in rows:
        roots[(row.incident_id, row.address_hash)].append((row.id, row.message_id))
    return roots


def _latest_notes(connection, incident_ids) -> dict[int, tuple[str, str, tuple[str, ...]]]:
    """Each incident's newest note (§14): who wrote it, when (UTC), its first lines."""
    newest = (
        select(func.max(EVENTS.c.id))
        .where(EVENTS.c.incident_id.in_(incident_ids), EVENTS.c.kind == "note")
        .group_by(EVENTS.c.incident_id)
    )
    rows = connection.execute(
        select(EVENTS.c.incident_id, EVENTS.c.actor, EVENTS.c.at, EVENTS.c.detail).where(
            EVENTS.c.id.in_(newest)
        )
    ).all()
    return {
        row.incident_id: (
            row.actor or "",
            f"{as_utc(row.at):%Y-%m-%d %H:%M} UTC",
            first_lines_of(row.detail),
        )
        for row in rows
    }


def _allowed_to_hint(owner: str) -> str:
    return (
        f"The shared configuration that sends {owner}'s mail admits only the recipients its "
        "Allowed-To patterns match. Ask an administrator to add a pattern, or give the "
        "integration an owner with personal SMTP settings."
    )


def _text_of(connection, mail_id: int) -> str:
    """The mail's text as the pipeline kept it; parsed from its bytes only for the mails
    stored before schema 0005 kept it."""
    text = connection.execute(select(MAILS.c.body_text).where(MAILS.c.id == mail_id)).scalar()
    if text is not None:
        return text
    raw = connection.execute(select(MAILS.c.raw).where(MAILS.c.id == mail_id)).scalar()
    return parse_mail(raw).body if raw else ""
