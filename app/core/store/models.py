"""SQLModel tables: users, SMTP preferences, sources, mails, incidents and notifications."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.core.store.secrets import EncryptedText


class User(SQLModel, table=True):
    """An operating-system login known to mailsiren."""

    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=128)
    email: str | None = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    email_hash: str | None = Field(default=None, index=True, max_length=64)
    permissions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Group(SQLModel, table=True):
    """A named group of users; the shared SMTP configuration's Allowed-Group names these."""

    __tablename__ = "user_group"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=128)


class GroupMembership(SQLModel, table=True):
    __tablename__ = "group_membership"
    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    group_id: int = Field(foreign_key="user_group.id", primary_key=True, ondelete="CASCADE")


class SmtpPreference(SQLModel, table=True):
    """A user's own SMTP server settings; secrets are encrypted columns."""

    __tablename__ = "smtp_preference"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    server: str = Field(max_length=253)
    port: int
    tls_mode: str = Field(max_length=16)
    skip_certificate_verification: bool = False
    username: str | None = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    password: str | None = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    from_address: str | None = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AlertSource(SQLModel, table=True):
    """A monitoring system's own address, and the rules that turn its mail into incidents."""

    __tablename__ = "alert_source"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=128)
    address: str = Field(unique=True, index=True, max_length=320)  # stored lower-cased
    severity: str = Field(max_length=16)
    escalation_policy: str | None = Field(default=None, max_length=128)
    creation: str = Field(max_length=32)
    on_no_key: str = Field(default="drop", max_length=16)
    filter_match: str = Field(default="all", max_length=8)
    resolve_match: str = Field(default="any", max_length=8)
    filters: list[dict] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    key_rules: list[dict] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    resolve_rules: list[dict] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # §12: the first severity rule that holds gives a new incident's severity; title_rule
    # (a key rule's extractor) its title.
    severity_rules: list[dict] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    title_rule: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    heartbeat_minutes: int = 0  # §11: 0 is off
    # §16: [[source.sample]] mails with what they must become; `config check` runs them.
    samples: list[dict] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    # §14: an incident accepted this long ago and not resolved goes back to pending; an open
    # one with no new mail for this long resolves. 0 is off.
    ack_timeout_minutes: int = 0
    auto_resolve_minutes: int = 0
    enabled: bool = True
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Mail(SQLModel, table=True):
    """One received mail, raw bytes included, exactly as it arrived."""

    __tablename__ = "mail"
    __table_args__ = (
        # Two listeners storing the same bytes at the same instant: only one is the first
        # copy; the other's insert fails, and its retry finds a duplicate.
        Index("one_first_copy", "first_copy_sha256", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )
    via: str = Field(max_length=8)  # smtp | ingest
    envelope_from: str | None = Field(default=None, max_length=320)
    envelope_to: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    message_id: str | None = Field(default=None, index=True, max_length=998)
    raw_sha256: str = Field(index=True, max_length=64)
    first_copy_sha256: str | None = Field(default=None, max_length=64)  # None on a redelivery
    size: int
    subject: str = ""
    from_header: str = ""
    defects: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The decoded text rules match (capped), kept at ingest: readers never parse `raw` again.
    # None for mails stored before schema 0005.
    body_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # §17: when retention emptied `raw` and `body_text`; subject and outcomes stay.
    pruned_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class Incident(SQLModel, table=True):
    """Mails of one source that belong together, from pending to accepted to resolved."""

    __tablename__ = "incident"
    __table_args__ = (
        # One open incident per key and source, held by the database itself.
        Index(
            "one_open_incident_per_key",
            "source_id",
            "key",
            unique=True,
            sqlite_where=text("state != 'resolved' AND key IS NOT NULL"),
            postgresql_where=text("state != 'resolved' AND key IS NOT NULL"),
        ),
        Index("incident_by_source_state", "source_id", "state", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="alert_source.id", ondelete="CASCADE")
    state: str = Field(max_length=16)  # pending | accepted | resolved
    severity: str = Field(max_length=16)
    title: str
    key: str | None = Field(default=None, max_length=512)
    subject_key: str = Field(default="", max_length=998)
    mail_count: int = 0
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )
    accepted_by: str | None = Field(default=None, max_length=128)
    accepted_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    resolved_by: str | None = Field(default=None, max_length=128)
    resolved_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    # The silence whose end will page this incident (§10); None once paged, or never held.
    silenced_by: int | None = Field(
        default=None, foreign_key="silence.id", index=True, ondelete="SET NULL"
    )
    # §13-14: who owns it (a user's name), when its last alert mail came (None: opened by
    # serve, a heartbeat), and how many replies joined it (counted apart from alert mails).
    assignee: str | None = Field(default=None, max_length=128)
    last_mail_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    reply_count: int = 0


class MailOutcome(SQLModel, table=True):
    """What one mail did for one source: exactly one row per (mail, source)."""

    __tablename__ = "mail_outcome"
    __table_args__ = (UniqueConstraint("mail_id", "source_id"),)

    id: int | None = Field(default=None, primary_key=True)
    mail_id: int = Field(foreign_key="mail.id", index=True, ondelete="CASCADE")
    # None: a reply to a notification (§15), which is for no source
    source_id: int | None = Field(
        default=None, foreign_key="alert_source.id", index=True, ondelete="CASCADE"
    )
    outcome: str = Field(max_length=16, index=True)
    incident_id: int | None = Field(
        default=None, foreign_key="incident.id", index=True, ondelete="SET NULL"
    )
    reason: str = ""
    silenced_by: int | None = Field(default=None, foreign_key="silence.id", ondelete="SET NULL")


class Silence(SQLModel, table=True):
    """A maintenance window: mails it covers are processed as usual but page nobody (§10)."""

    __tablename__ = "silence"
    __table_args__ = (Index("silence_by_end", "ends_at"),)

    id: int | None = Field(default=None, primary_key=True)
    source_id: int | None = Field(  # None: every source
        default=None, foreign_key="alert_source.id", ondelete="CASCADE"
    )
    match: str | None = None  # RE2, searched in the decoded subject, case-insensitive
    starts_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ends_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    reason: str
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ended_by: str | None = Field(default=None, max_length=128)  # `silences end`: who, early
    # Set once, by the one serve whose UPDATE finds it NULL: that serve pages what it held.
    released_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class TimelineEvent(SQLModel, table=True):
    """Something that happened to an incident, by whom and when."""

    __tablename__ = "timeline_event"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    kind: str = Field(max_length=32)
    actor: str | None = Field(default=None, max_length=128)
    mail_id: int | None = Field(default=None, foreign_key="mail.id", ondelete="SET NULL")
    detail: str = ""


class OrgSettings(SQLModel, table=True):
    """The organization's notification settings: one row, id 1."""

    __tablename__ = "org_settings"

    id: int | None = Field(default=None, primary_key=True)
    internal_domains: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    notify_on: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    storm_limit: int = 10  # at most this many mails per address per window
    storm_window_minutes: int = 3
    # §15: replies to notifications come to local+TOKEN@domain of this address. Stored plain,
    # like the sources' addresses: it is mailsiren's own address, which the listener accepts.
    reply_address: str | None = Field(default=None, max_length=320)
    retention_days: int = 0  # §17: mails of resolved incidents older than this are pruned
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Integration(SQLModel, table=True):
    """An email integration: an address that receives incident events of some severities."""

    __tablename__ = "integration"

    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(sa_column=Column(EncryptedText, nullable=False))
    address_hash: str = Field(index=True, max_length=64)
    level: str = Field(max_length=16)  # all | alert | warning | info
    and_above: bool = False
    frequency: str = Field(default="instant", max_length=16)
    digest_at: str | None = Field(default=None, max_length=5)  # daily digests: HH:MM local
    enabled: bool = True
    owner_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class EscalationPolicy(SQLModel, table=True):
    """Who to page, in order, while an incident stays pending."""

    __tablename__ = "escalation_policy"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=128)
    repeat: int = 0
    # [{"targets": [...], "delay_minutes": N}, ...] as JSON, encrypted: targets are addresses.
    steps: str = Field(sa_column=Column(EncryptedText, nullable=False))
    owner_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Schedule(SQLModel, table=True):
    """Who is on call (§18): a rotation of users, in order, handing off in the schedule's zone."""

    __tablename__ = "schedule"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=128)
    time_zone: str = Field(max_length=64)  # IANA, e.g. Europe/Berlin
    users: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    length: str = Field(max_length=16)  # 1w, 1d, 12h
    handoff: str = Field(max_length=16)  # the first shift's start, local: 2026-12-07T09:00
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ScheduleOverride(SQLModel, table=True):
    """A user on call instead of the rotation, from `starts_at` to `ends_at` (§18)."""

    __tablename__ = "schedule_override"

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: int = Field(foreign_key="schedule.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    starts_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ends_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class EscalationRun(SQLModel, table=True):
    """An escalation under way: the next step of an incident's policy and when it is due."""

    __tablename__ = "escalation_run"

    incident_id: int = Field(foreign_key="incident.id", primary_key=True, ondelete="CASCADE")
    policy_id: int = Field(foreign_key="escalation_policy.id", ondelete="CASCADE")
    step: int = 0  # index of the next step to take
    round: int = 0  # how many times the steps have been gone through
    due_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))


class Delivery(SQLModel, table=True):
    """The outbox: one notification mail for one event and one address, and its fate."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("event_id", "address_hash", name="one_delivery_per_event_address"),
        Index("delivery_due", "status", "next_attempt_at"),
        Index("delivery_sent_to", "address_hash", "sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    event_id: int = Field(foreign_key="timeline_event.id", ondelete="CASCADE")
    event: str = Field(max_length=32)  # incident_opened, … (names.NOTIFY_EVENTS)
    address: str = Field(sa_column=Column(EncryptedText, nullable=False))
    address_hash: str = Field(max_length=64)
    owner_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    why: str = ""  # "integration alert and above", "escalation ops step 1"
    status: str = Field(default="queued", max_length=16)  # names.DELIVERY_STATUSES
    attempts: int = 0
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    next_attempt_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    held_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )  # storm control: goes out in a summary when the window closes
    sent_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    message_id: str | None = Field(default=None, index=True, max_length=255)
    digest: str | None = Field(default=None, max_length=16)  # hourly | daily: held for its digest
    # A dispatcher's claim: it alone sends the row until claimed_until (renewed while it
    # works; a dispatcher that died loses its claim when it runs out).
    claimed_by: str | None = Field(default=None, max_length=255)
    claimed_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    last_reply: str = ""
    hint: str = ""


class DeliveryAttempt(SQLModel, table=True):
    """One try at sending a delivery, with the server's reply."""

    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="delivery.id", index=True, ondelete="CASCADE")
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    outcome: str = Field(max_length=16)  # sent | temporary | permanent
    stage: str = Field(default="", max_length=32)
    reply: str = ""
