"""The source editor's preview: replay sample mails through saved and edited rules, in memory.

Nothing is written. The replay runs `outcomes.decide`, the very decision ingest makes, over a
`ReplayStore` that starts with no open incidents; incidents are named by the row of the mail
that opened them, so the saved and edited replays can be compared row by row. Each verdict
carries the severity and title of the incident the mail lands in (SPEC §12).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import col, select

from app.core.incidents.views import iso_utc
from app.core.intake.mail import ParsedMail, parse_mail
from app.core.intake.outcomes import decide
from app.core.intake.rules import extract_key, subject_key
from app.core.intake.sources import SourceSpec
from app.core.names import SEVERITIES
from app.core.store.db import Database, utc_now
from app.core.store.models import AlertSource, Mail, MailOutcome
from app.errors import MailsirenError

SAMPLE_LIMIT = 50  # the newest stored mails of a source, replayed oldest first
EML_LIMIT = 200  # files read from a folder
EML_MAX_BYTES = 10 * 1024 * 1024  # the listener's own size limit


class SampleError(MailsirenError):
    """Sample mails that cannot be read; the message names the path and why."""

    title = "Sample mail not usable"


@dataclass(frozen=True)
class SampleMail:
    """One mail to replay: a stored mail of the source, or an .eml file."""

    label: str  # "mail 1043" or the file name
    parsed: ParsedMail
    raw: bytes = field(repr=False)
    mail_id: int | None = None
    received_at: str | None = None
    recorded: str = ""  # what the mail did when it arrived (stored mails only)


@dataclass(frozen=True)
class Verdict:
    """What one mail does under one set of rules, in the replay."""

    outcome: str
    incident: int | None  # the row number of the mail that opened the incident
    key: str | None
    reason: str
    severity: str | None = None  # the incident's after this mail (None: no incident)
    title: str | None = None  # the incident's title (set by the mail that opened it)

    @property
    def compared(self) -> tuple:
        """What a difference between the saved and the edited rules is made of."""
        return (self.outcome, self.incident, self.key, self.severity, self.title)

    def describe(self) -> str:
        """created ▸1, appended ▸1, resolved ▸1, filtered…"""
        return f"{self.outcome} ▸{self.incident}" if self.incident is not None else self.outcome


@dataclass(frozen=True)
class PreviewRow:
    number: int  # 1 = the oldest mail replayed
    sample: SampleMail
    saved: Verdict | None  # None: the source is new, nothing is saved yet
    edited: Verdict | None  # None: the edited rules are not valid yet

    @property
    def differs(self) -> bool:
        if self.saved is None or self.edited is None:
            return False
        return self.saved.compared != self.edited.compared


@dataclass(frozen=True)
class Preview:
    rows: tuple[PreviewRow, ...]

    @property
    def differences(self) -> int:
        return sum(row.differs for row in self.rows)

    def tally(self, which: str) -> dict[str, int]:
        """How many mails end in each outcome under the `saved` or `edited` rules."""
        counts: dict[str, int] = {}
        for row in self.rows:
            verdict = getattr(row, which)
            if verdict is not None:
                counts[verdict.outcome] = counts.get(verdict.outcome, 0) + 1
        return counts


@dataclass
class _ReplayIncident:
    id: int
    key: str | None
    subject_key: str
    state: str = "pending"
    touched: int = 0
    severity: str = "alert"
    title: str = ""


class ReplayStore:
    """An IncidentStore in memory: the source starts with no incidents."""

    def __init__(self) -> None:
        self.incidents: dict[int, _ReplayIncident] = {}
        self.outcomes: dict[int, tuple[str, int | None]] = {}
        self.in_incidents: dict[str, tuple[int, int]] = {}  # Message-ID: (mail, incident)
        self.tick = 0

    def _open(self, **wanted) -> list[_ReplayIncident]:
        found = [
            incident
            for incident in self.incidents.values()
            if incident.state != "resolved"
            and all(getattr(incident, name) == value for name, value in wanted.items())
        ]
        return sorted(found, key=lambda incident: (incident.touched, incident.id), reverse=True)

    def first_outcome(self, source_id, earlier):
        for mail_id in sorted(earlier):
            outcome = self.outcomes.get(mail_id)
            if outcome is not None and outcome[0] != "duplicate":
                return mail_id, outcome[1]
        return None

    def sent_by_us(self, message_ids):
        return False  # the preview does not know what was sent; ingest checks

    def incident_of_mails(self, source_id, message_ids):
        found = [self.in_incidents[name] for name in message_ids if name in self.in_incidents]
        return max(found) if found else None

    def thread(self, incident_id, mail_id, now):
        pass  # a reply changes nothing the preview shows

    def open_with_key(self, source_id, key):
        found = self._open(key=key)
        return found[0].id if found else None

    def open_with_subject(self, source_id, subject):
        found = self._open(subject_key=subject)
        return found[0].id if found else None

    def newest_pending(self, source_id):
        found = self._open(state="pending")
        return found[0].id if found else None

    def newest_open(self, source_id):
        found = self._open()
        return found[0].id if found else None

    def append(self, incident_id, mail_id, now):
        self.tick += 1
        self.incidents[incident_id].touched = self.tick

    def resolve(self, incident_id, mail_id, now):
        self.incidents[incident_id].state = "resolved"

    def create(self, spec, parsed, key, mail_id, now):
        self.tick += 1
        incident = _ReplayIncident(
            mail_id, key, subject_key(parsed.subject), touched=self.tick,
            severity=spec.severity_for(parsed), title=spec.title_for(parsed) or parsed.title,
        )  # fmt: skip
        self.incidents[mail_id] = incident
        return mail_id

    def raise_severity(self, incident_id: int, severity: str) -> None:
        """An appended mail of a worse severity raises the incident's; never lowers it."""
        incident = self.incidents[incident_id]
        if SEVERITIES.index(severity) < SEVERITIES.index(incident.severity):
            incident.severity = severity


def mail_key(spec: SourceSpec, parsed: ParsedMail) -> str | None:
    """The key a by_key source reads from the mail (on_no_key = subject included)."""
    if spec.creation != "by_key":
        return None
    extracted = extract_key(spec.key_rules, parsed)
    if extracted is not None:
        return extracted[0]
    return subject_key(parsed.subject) if spec.on_no_key == "subject" else None


def replay(spec: SourceSpec, samples: Sequence[SampleMail]) -> list[Verdict]:
    """Every sample through the rules, in order, from a source with no open incidents."""
    store = ReplayStore()
    seen: dict[tuple[str, str | None], list[int]] = {}
    verdicts = []
    now = utc_now()
    for number, sample in enumerate(samples, start=1):
        parsed = sample.parsed
        copies = seen.setdefault((parsed.sha256, parsed.message_id), [])
        outcome, incident, reason = decide(store, spec, number, parsed, list(copies), now)
        copies.append(number)
        store.outcomes[number] = (outcome, incident)
        if incident is not None and parsed.message_id and outcome != "duplicate":
            store.in_incidents.setdefault(parsed.message_id, (number, incident))
        opened = store.incidents.get(incident) if incident is not None else None
        if opened is not None and outcome == "appended":
            store.raise_severity(opened.id, spec.severity_for(parsed))
        key = opened.key if opened is not None else None
        if key is None and outcome == "orphan_resolve":
            key = mail_key(spec, parsed)
        severity, title = (opened.severity, opened.title) if opened is not None else (None, None)
        verdicts.append(Verdict(outcome, incident, key, reason, severity, title))
    return verdicts


def preview(
    saved: SourceSpec | None, edited: SourceSpec | None, samples: Sequence[SampleMail]
) -> Preview:
    """Saved and edited rules side by side, row by row (either may be missing)."""
    after = replay(edited, samples) if edited is not None else [None] * len(samples)
    before = replay(saved, samples) if saved is not None else [None] * len(samples)
    return Preview(
        tuple(
            PreviewRow(number, sample, old, new)
            for number, (sample, old, new) in enumerate(
                zip(samples, before, after, strict=True), start=1
            )
        )
    )


def stored_samples(
    database: Database, source: str, *, limit: int = SAMPLE_LIMIT
) -> list[SampleMail]:
    """The newest `limit` mails stored for the source, oldest first, with what they did."""
    query = (
        select(Mail, MailOutcome.outcome, MailOutcome.incident_id, MailOutcome.reason)
        .join(MailOutcome, col(MailOutcome.mail_id) == Mail.id)
        .join(AlertSource, col(AlertSource.id) == MailOutcome.source_id)
        .where(AlertSource.name == source)
        .order_by(col(Mail.id).desc())
        .limit(limit)
    )
    with database.read() as session:
        rows = session.exec(query).all()
    samples = []
    for mail, outcome, incident_id, reason in reversed(rows):
        incident = f" #{incident_id}" if incident_id is not None else ""
        samples.append(
            SampleMail(
                label=f"mail {mail.id}",
                parsed=parse_mail(mail.raw),
                raw=mail.raw,
                mail_id=mail.id,
                received_at=iso_utc(mail.received_at),
                recorded=f"{outcome}{incident}: {reason}",
            )
        )
    return samples


def eml_files(location: str, *, limit: int = EML_LIMIT) -> list[Path]:
    """One .eml file, or every *.eml in a folder in name order (at most `limit`)."""
    if not location.strip():
        raise SampleError("type the path of an .eml file or of a folder of .eml files")
    path = Path(location.strip()).expanduser()
    try:
        if path.is_dir():
            files = sorted(child for child in path.iterdir() if child.suffix.lower() == ".eml")
            if not files:
                raise SampleError(f"{path} holds no .eml files")
            return files[:limit]
    except OSError as error:
        raise SampleError(f"{path}: {error.strerror or error}") from error
    if path.is_file():
        return [path]
    raise SampleError(f"{path}: no such file or folder")


def eml_samples(location: str, *, limit: int = EML_LIMIT) -> list[SampleMail]:
    """The mails of eml_files(location), parsed (a malformed one is kept, with its defects)."""
    files = eml_files(location, limit=limit)
    samples = []
    for file in files:
        try:
            size = file.stat().st_size
            if size > EML_MAX_BYTES:
                raise SampleError(
                    f"{file} is {size // (1024 * 1024)} MiB; the listener takes at most "
                    f"{EML_MAX_BYTES // (1024 * 1024)} MiB"
                )
            raw = file.read_bytes()
        except OSError as error:
            raise SampleError(f"{file}: {error.strerror or error}") from error
        samples.append(SampleMail(label=file.name, parsed=parse_mail(raw), raw=raw))
    return samples
