"""Storm control: mails beyond the per-address limit wait, then go out as one summary."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.utils import make_msgid

from sqlalchemy import Row, func, select, update

from app.core.notifications.digests import digest_body, digest_subject
from app.core.notifications.notice import IncidentNotice, build_message, summary_body
from app.core.notifications.org import OrgView
from app.core.notifications.outbox import DELIVERIES, Outgoing
from app.core.notifications.routing import message_id_domain
from app.core.store.db import Database, as_utc


def hold_storms(
    database: Database,
    due: Sequence[Row],
    notices: dict[int, IncidentNotice],
    org: OrgView,
    now: datetime,
) -> list[Outgoing]:
    """Rows within the per-address limit become mails; the rest are held for a summary.

    The limit counts the distinct mails sent to an address in the organization's storm
    window; a held row carries when its summary goes out and, as its hint, why it waits."""
    window = timedelta(minutes=org.storm_window_minutes)
    hashes = {row.address_hash for row in due}
    with database.read() as session:
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
            outgoing.append(single_mail(row, notices.get(row.id), now))
        else:
            oldest = recent.get(row.address_hash, (0, now))[1]
            held.append((row.id, max(oldest + window, now + timedelta(seconds=1))))
    if held:
        with database.write() as session:
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


def summaries(
    released: Sequence[Row], notices: dict[int, IncidentNotice], org: OrgView, now: datetime
) -> list[Outgoing]:
    """The held rows whose window closed: one summary per address and owner (a lone row
    goes out as itself)."""
    groups: dict[tuple[str, int | None, str | None], list] = defaultdict(list)
    for row in released:
        groups[(row.address_hash, row.owner_id, row.digest)].append(row)
    outgoing = []
    for (_, _, digest), rows in groups.items():
        if len(rows) == 1 and digest is None:
            outgoing.append(single_mail(rows[0], notices.get(rows[0].id), now))
            continue
        first = rows[0]
        covered = [notices[row.id] for row in rows if row.id in notices]
        if digest is not None:  # a digest period ended: one mail of its events (§15)
            subject, body = digest_subject(digest, covered), digest_body(digest, covered)
        else:
            subject = f"[mailsiren] {len(rows)} notifications held back by storm control"
            body = summary_body(first.address, covered, org.storm_window_minutes)
        message = build_message(
            to=first.address,
            subject=subject,
            body=body,
            message_id=make_msgid("d" if digest else "s", domain=message_id_domain()),
            now=now,
        )
        outgoing.append(
            Outgoing(
                tuple(row.id for row in rows), first.address, first.owner_id, message,
                min(as_utc(row.created_at) for row in rows), max(row.attempts for row in rows),
            )
        )  # fmt: skip
    return outgoing


def single_mail(row: Row, notice: IncidentNotice | None, now: datetime) -> Outgoing:
    """One delivery as its own mail, with the Message-ID it was queued with."""
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
        reply_to=notice.reply_to,
        thread_root=notice.thread_root,
    )
    return Outgoing(
        (row.id,), row.address, row.owner_id, message, as_utc(row.created_at), row.attempts
    )
