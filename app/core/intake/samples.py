"""Samples as tests (SPEC §16): mails a `[[source]]` carries with what each must do, run in memory.

A sample is read from `file` (relative to the TOML file's folder), `raw` (the mail as text) or
`raw_base64` (its bytes, as `config export` writes a mail that is not plain UTF-8 text with
LF line ends); the database keeps the bytes (base64 in `alert_source.samples`). Running them
is the editor's preview replay (`preview.replay`): the very decision ingest makes, in order,
from no open incidents, storing nothing.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import select

from app.core.entries import known_table
from app.core.intake.mail import parse_mail
from app.core.intake.preview import EML_MAX_BYTES, SampleMail, Verdict, replay
from app.core.intake.sources import SourceSpec
from app.core.names import MAIL_OUTCOMES, SEVERITIES
from app.core.store.db import Database
from app.core.store.models import AlertSource
from app.errors import MailsirenError

MAIL_KEYS = ("file", "raw", "raw_base64")  # exactly one says where the mail is
EXPECTATIONS = ("expect_outcome", "expect_key", "expect_severity")  # at least one
SAMPLE_KEYS = (*MAIL_KEYS, *EXPECTATIONS)
# What a replayed mail can do: the decision's outcomes (a reply by email, a refusal at RCPT
# are not decided for a source).
SAMPLE_OUTCOMES = tuple(
    outcome for outcome in MAIL_OUTCOMES if outcome not in ("reply", "reply_refused", "rejected")
)
COMPARED = (("outcome", "expect_outcome"), ("key", "expect_key"), ("severity", "expect_severity"))


class SampleEntryError(MailsirenError, ValueError):
    """A `[[source.sample]]` that cannot be used; the message names the entry and the key."""

    title = "Sample not usable"


@dataclass(frozen=True)
class SourceSample:
    """One sample: the mail's bytes and what it must do (None: not checked)."""

    raw: bytes = field(repr=False)
    label: str = "raw"  # the file's name, for messages; not stored
    expect_outcome: str | None = None
    expect_key: str | None = None
    expect_severity: str | None = None

    def expected(self) -> dict[str, str]:
        return {key: getattr(self, key) for key in EXPECTATIONS if getattr(self, key) is not None}

    def to_row(self) -> dict:
        """The JSON kept in `alert_source.samples`: the bytes exactly, base64."""
        return {**self.expected(), "raw_base64": base64.b64encode(self.raw).decode("ascii")}

    @classmethod
    def from_row(cls, data: dict) -> SourceSample:
        raw = base64.b64decode(data["raw_base64"])
        return cls(raw, "raw", *(data.get(key) for key in EXPECTATIONS))

    def to_toml(self) -> dict:
        """The `[[source.sample]]` table `config export` writes: `raw` when the mail is UTF-8
        text with LF line ends (a TOML multi-line string gives it back exactly), else
        `raw_base64` (TOML has no bytes, and its multi-line strings turn CR LF into LF)."""
        try:
            text = self.raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and "\r" not in text:
            return {**self.expected(), "raw": text}
        return {**self.expected(), "raw_base64": base64.b64encode(self.raw).decode("ascii")}


def parse_samples(entries: object, where: str, folder: Path | None) -> tuple[SourceSample, ...]:
    """Validate a source's `[[source.sample]]` list; `file`s are read now, from `folder`."""
    if not isinstance(entries, list):
        raise SampleEntryError(f"{where}: sample must be a list of tables ([[source.sample]])")
    return tuple(
        parse_sample(entry, f"{where}: sample {number}", folder)
        for number, entry in enumerate(entries, start=1)
    )


def parse_sample(data: object, where: str, folder: Path | None) -> SourceSample:
    """One `[[source.sample]]`: exactly one of file, raw, raw_base64; at least one expect_*."""
    data = known_table(data, where, SAMPLE_KEYS, SampleEntryError)
    given = [key for key in MAIL_KEYS if key in data]
    if len(given) != 1:
        raise SampleEntryError(
            f'{where}: give the mail once: file = "problem.eml" (relative to this file\'s '
            f"folder) or raw = '''…''' (the whole mail); "
            + (f"it has {' and '.join(given)}" if given else "it has neither")
        )
    [key] = given
    value = data[key]
    if not isinstance(value, str) or not value:
        raise SampleEntryError(f"{where}: {key} must be a non-empty string")
    if key == "file":
        raw, label = _read_file(value, where, folder), Path(value).name
    elif key == "raw":
        raw, label = value.encode("utf-8"), "raw"
    else:
        try:
            raw, label = base64.b64decode(value, validate=True), "raw_base64"
        except (binascii.Error, ValueError):
            raise SampleEntryError(f"{where}: raw_base64 is not base64") from None
    expected = {name: data[name] for name in EXPECTATIONS if name in data}
    if not expected:
        raise SampleEntryError(
            f"{where}: says nothing to check: give at least one of {', '.join(EXPECTATIONS)}"
        )
    for name, value in expected.items():
        if not isinstance(value, str) or not value:
            raise SampleEntryError(f"{where}: {name} must be a non-empty string")
    outcome = expected.get("expect_outcome")
    if outcome is not None and outcome not in SAMPLE_OUTCOMES:
        raise SampleEntryError(
            f"{where}: expect_outcome {outcome!r} is not an outcome; outcomes are "
            f"{', '.join(SAMPLE_OUTCOMES)}"
        )
    severity = expected.get("expect_severity")
    if severity is not None and severity not in SEVERITIES:
        raise SampleEntryError(
            f"{where}: expect_severity {severity!r} is not a severity; severities are "
            f"{', '.join(SEVERITIES)}"
        )
    return SourceSample(raw, label, outcome, expected.get("expect_key"), severity)


def _read_file(name: str, where: str, folder: Path | None) -> bytes:
    path = (folder or Path()) / Path(name).expanduser()
    try:
        size = path.stat().st_size
        if size > EML_MAX_BYTES:
            raise SampleEntryError(
                f"{where}: file {name!r} is {size // (1024 * 1024)} MiB; "
                f"a mail is at most {EML_MAX_BYTES // (1024 * 1024)} MiB"
            )
        return path.read_bytes()
    except OSError as error:
        raise SampleEntryError(
            f"{where}: file {name!r} cannot be read ({path}): {error.strerror or error}"
        ) from None


@dataclass(frozen=True)
class FieldDifference:
    field: str  # outcome | key | severity
    expected: str
    got: str | None


@dataclass(frozen=True)
class SampleResult:
    """What one sample did in the replay, and where that differs from what it expects."""

    source: str
    number: int  # 1 = the source's first sample
    sample: SourceSample
    verdict: Verdict
    differences: tuple[FieldDifference, ...]

    @property
    def passed(self) -> bool:
        return not self.differences

    @property
    def name(self) -> str:
        """source 'nagios', sample 2 (recovery.eml)"""
        return f"source {self.source!r}, sample {self.number} ({self.sample.label})"

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "sample": self.number,
            "label": self.sample.label,
            "passed": self.passed,
            "outcome": self.verdict.outcome,
            "key": self.verdict.key,
            "severity": self.verdict.severity,
            "reason": self.verdict.reason,
            "expected": self.sample.expected(),
            "differences": [
                {"field": diff.field, "expected": diff.expected, "got": diff.got}
                for diff in self.differences
            ],
        }


def run_samples(spec: SourceSpec, samples: Sequence[SourceSample]) -> list[SampleResult]:
    """Every sample through the source's rules, in order, from no open incidents; stores
    nothing. Each result names the fields whose expectation the replay does not meet."""
    mails = [SampleMail(sample.label, parse_mail(sample.raw), sample.raw) for sample in samples]
    results = []
    for number, (sample, verdict) in enumerate(zip(samples, replay(spec, mails), strict=True), 1):
        differences = tuple(
            FieldDifference(name, getattr(sample, expectation), getattr(verdict, name))
            for name, expectation in COMPARED
            if getattr(sample, expectation) is not None
            and getattr(sample, expectation) != getattr(verdict, name)
        )
        results.append(SampleResult(spec.name, number, sample, verdict, differences))
    return results


def stored_sample_rows(database: Database) -> dict[str, list[dict]]:
    """Each source's samples as stored (`SourceSample.from_row` reads one), by source name."""
    with database.read() as session:
        return dict(session.exec(select(AlertSource.name, AlertSource.samples)).all())
