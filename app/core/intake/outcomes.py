"""What one mail does for one source: loop check, filters, resolve rules, creation mode.

The decision runs over an `IncidentStore`: the database when a mail is ingested, memory when
the source editor replays mails against rules not yet saved, so the preview is the pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from app.core.intake.mail import ParsedMail
from app.core.intake.rules import conditions_hold, extract_key, first_failure, subject_key
from app.core.intake.sources import SourceSpec
from app.core.notifications.routing import mentioned_message_ids


class IncidentStore(Protocol):
    """The incidents of the sources a mail is decided for, and the changes a decision makes."""

    def first_outcome(self, source_id: int | None, earlier: Sequence[int]) -> tuple | None:
        """(mail_id, incident_id) of the first non-duplicate outcome of an earlier copy."""

    def open_with_key(self, source_id: int | None, key: str) -> int | None: ...

    def open_with_subject(self, source_id: int | None, subject: str) -> int | None: ...

    def newest_pending(self, source_id: int | None) -> int | None: ...

    def newest_open(self, source_id: int | None) -> int | None: ...

    def sent_by_us(self, message_ids: Sequence[str]) -> bool:
        """True when one of these Message-IDs is a notification mailsiren sent."""

    def incident_of_mails(self, source_id: int | None, message_ids: Sequence[str]) -> tuple | None:
        """(mail_id, incident_id) of a stored mail with one of these Message-IDs in an
        incident of the source, the newest first."""

    def thread(self, incident_id: int, mail_id: int, now: datetime) -> None:
        """A reply joins its incident: no state change, no notification (§13)."""

    def append(self, incident_id: int, mail_id: int, now: datetime) -> None: ...

    def resolve(self, incident_id: int, mail_id: int, now: datetime) -> None:
        """Resolve by email (the mail has been appended already)."""

    def create(
        self, spec: SourceSpec, parsed: ParsedMail, key: str | None, mail_id: int, now: datetime
    ) -> int: ...


def decide(
    store: IncidentStore,
    spec: SourceSpec,
    mail_id: int,
    parsed: ParsedMail,
    earlier: Sequence[int],
    now: datetime,
) -> tuple[str, int | None, str]:
    """(outcome, incident id, reason) for one mail and one source; changes the store."""
    original = store.first_outcome(spec.id, earlier) if earlier else None
    if original is not None:
        return "duplicate", original[1], f"already received as mail {original[0]}"
    loop = loop_reason(parsed) or reply_to_us(store, parsed)
    if loop:
        return "loop", None, loop
    replied = replied_to(store, spec, parsed)
    if replied is not None:
        replied_mail, incident_id = replied
        store.thread(incident_id, mail_id, now)
        return "threaded", incident_id, f"a reply to mail {replied_mail} of incident #{incident_id}"
    failed = first_failure(spec.filters, spec.filter_match, parsed)
    if failed:
        return "filtered", None, failed
    resolving = conditions_hold(spec.resolve_rules, spec.resolve_match, parsed)
    key, target, how = find_target(store, spec, parsed)
    if how == "no_key":
        rules = "; ".join(rule.describe() for rule in spec.key_rules)
        return "no_key", None, f"no key rule extracted a key ({rules})"
    if resolving:
        if target is None:
            wanted = f" with key {key!r}" if key else ""
            return "orphan_resolve", None, f"resolve rule held, but no open incident{wanted}"
        store.append(target, mail_id, now)
        store.resolve(target, mail_id, now)
        return "resolved", target, "resolve rule held"
    if target is not None:
        store.append(target, mail_id, now)
        return "appended", target, how
    incident_id = store.create(spec, parsed, key, mail_id, now)
    return "created", incident_id, f"new incident{f' with key {key!r}' if key else ''}"


def find_target(
    store: IncidentStore, spec: SourceSpec, parsed: ParsedMail
) -> tuple[str | None, int | None, str]:
    """The key (by_key), the id of the open incident this mail belongs to, and why."""
    if spec.creation == "by_key":
        extracted = extract_key(spec.key_rules, parsed)
        if extracted is not None:
            key, rule = extracted
            reason = f"same key {key!r} ({rule.describe()})"
        elif spec.on_no_key == "subject":
            key, reason = subject_key(parsed.subject), "no key extracted: same subject"
        elif spec.on_no_key == "new":
            return None, None, "no key extracted: a new incident"
        else:
            return None, None, "no_key"
        return key, store.open_with_key(spec.id, key), reason
    if spec.creation == "per_subject":
        found = store.open_with_subject(spec.id, subject_key(parsed.subject))
        return None, found, "same subject"
    if spec.creation == "single_pending":
        return None, store.newest_pending(spec.id), "the pending incident"
    if spec.creation == "single_open":
        return None, store.newest_open(spec.id), "the open incident"
    return None, None, "every mail opens an incident"


def replied_to(store: IncidentStore, spec: SourceSpec, parsed: ParsedMail) -> tuple | None:
    """(mail_id, incident_id) when the mail's In-Reply-To or References names a mail of an
    incident of this source: a person's "RE:" joins it rather than opening another (§13)."""
    named = [reference for reference in parsed.references if reference != parsed.message_id]
    return store.incident_of_mails(spec.id, named[:50]) if named else None


def reply_to_us(store: IncidentStore, parsed: ParsedMail) -> str | None:
    """The loop shield: a notification of ours coming back, or a reply to one."""
    headers = (parsed.message_id or "", parsed.header("in-reply-to"), parsed.header("references"))
    if store.sent_by_us(mentioned_message_ids(headers)):
        return "a notification mailsiren sent, or a reply to one: never an alert"
    return None


def loop_reason(parsed: ParsedMail) -> str | None:
    """An automatic reply (RFC 3834 and the usual vendor headers) is never an alert."""
    submitted = parsed.header("auto-submitted").lower()
    if submitted.startswith("auto-replied"):
        return f"Auto-Submitted: {parsed.header('auto-submitted')}: an automatic reply"
    if "x-autoreply" in parsed.headers:
        return "X-Autoreply header: an automatic reply"
    if parsed.header("precedence").lower() == "auto_reply":
        return "Precedence: auto_reply: an automatic reply"
    return None
