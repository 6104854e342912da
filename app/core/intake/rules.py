"""A source's filters, key rules, resolve rules, severity rules and title rule: validated
once, run in RE2 (linear time)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import re2

from app.core.intake.mail import ParsedMail, title_of
from app.core.names import SEVERITIES
from app.errors import MailsirenError

FIELDS = ("subject", "body", "from", "to", "cc")
OPS = (
    "contains",
    "not_contains",
    "equals",
    "not_equals",
    "starts_with",
    "ends_with",
    "matches",
    "not_matches",
)
MATCH_MODES = ("all", "any")
KEY_FIELDS = ("subject", "body")
EXTRACTORS = ("regex", "between", "after", "before")
_WHITESPACE = re.compile(r"\s+")
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 field name: printable, no colon


class RuleError(MailsirenError, ValueError):
    """A rule that cannot be used; the message names the entry and the key."""

    title = "Rule not valid"


def compile_re2(pattern: str, *, case_sensitive: bool = True) -> object:
    """Compile with RE2 (linear time, no logging to stderr), or RuleError with RE2's reason."""
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = case_sensitive
    try:
        return re2.compile(pattern, options=options)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise RuleError(f"`{pattern}` is not a valid RE2 expression: {reason}") from error


# Keys are clipped to this (incident.key's column): PostgreSQL refuses longer values, and a
# clipped key must match its incident again next time.
KEY_LENGTH = 512


def _require_text(data: dict, key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise RuleError(f"{where}: {key} must be a non-empty string")
    return value


def _check_keys(data: object, allowed: Sequence[str], where: str) -> dict:
    if not isinstance(data, dict):
        raise RuleError(f"{where}: must be a table of keys, not {type(data).__name__}")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise RuleError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(allowed)}")
    return data


@dataclass(frozen=True)
class Condition:
    """{field, op, value, case_sensitive}: one test of a mail."""

    field: str
    op: str
    value: str
    case_sensitive: bool = False
    compiled: object = field(default=None, compare=False, repr=False)

    def describe(self) -> str:
        case = " (case-sensitive)" if self.case_sensitive else ""
        if self.op in ("matches", "not_matches"):
            return f"{self.field} {self.op} `{self.value}`{case}"  # a regex as typed
        return f"{self.field} {self.op} {self.value!r}{case}"

    def holds(self, mail: ParsedMail) -> bool:
        text = field_text(mail, self.field)
        if self.op in ("matches", "not_matches"):
            found = self.compiled.search(text) is not None  # type: ignore[attr-defined]
            return found if self.op == "matches" else not found
        value = self.value
        if not self.case_sensitive:
            text, value = text.casefold(), value.casefold()
        result = {
            "contains": value in text,
            "not_contains": value not in text,
            "equals": text == value,
            "not_equals": text != value,
            "starts_with": text.startswith(value),
            "ends_with": text.endswith(value),
        }
        return result[self.op]

    def to_dict(self) -> dict:
        data = {"field": self.field, "op": self.op, "value": self.value}
        if self.case_sensitive:
            data["case_sensitive"] = True
        return data


def parse_condition(data: object, where: str) -> Condition:
    data = _check_keys(data, ("field", "op", "value", "case_sensitive"), where)
    name = _require_text(data, "field", where)
    if name not in FIELDS and not (
        name.startswith("header:") and _HEADER_NAME.match(name.removeprefix("header:"))
    ):
        raise RuleError(
            f"{where}: field {name!r} is not one of {', '.join(FIELDS)} or header:<Name>"
        )
    op = _require_text(data, "op", where)
    if op not in OPS:
        raise RuleError(f"{where}: op {op!r} is not one of {', '.join(OPS)}")
    value = data.get("value")
    if not isinstance(value, str):
        raise RuleError(f"{where}: value must be a string")
    case_sensitive = data.get("case_sensitive", False)
    if not isinstance(case_sensitive, bool):
        raise RuleError(f"{where}: case_sensitive must be true or false")
    compiled = None
    if op in ("matches", "not_matches"):
        try:
            compiled = compile_re2(value, case_sensitive=case_sensitive)
        except RuleError as error:
            raise RuleError(f"{where}: value: {error}") from error
    return Condition(name, op, value, case_sensitive, compiled)


@dataclass(frozen=True)
class SeverityRule:
    """{field, op, value, case_sensitive, severity}: a condition, and the severity of a mail
    it holds for (SPEC §12)."""

    condition: Condition
    severity: str

    def describe(self) -> str:
        return f"{self.condition.describe()} → {self.severity}"

    def holds(self, mail: ParsedMail) -> bool:
        return self.condition.holds(mail)

    def to_dict(self) -> dict:
        return self.condition.to_dict() | {"severity": self.severity}


SEVERITY_RULE_KEYS = ("field", "op", "value", "case_sensitive", "severity")


def parse_severity_rule(data: object, where: str) -> SeverityRule:
    data = _check_keys(data, SEVERITY_RULE_KEYS, where)
    severity = data.get("severity")
    if severity is None:
        raise RuleError(
            f"{where}: severity is missing: give the severity a mail this rule holds for "
            f"gets, one of {', '.join(SEVERITIES)}"
        )
    if severity not in SEVERITIES:
        raise RuleError(
            f"{where}: severity {severity!r} is not one of {', '.join(SEVERITIES)}: map the "
            "monitor's word to one of them (e.g. CRITICAL → alert, WARNING → warning)"
        )
    condition = parse_condition({k: v for k, v in data.items() if k != "severity"}, where)
    return SeverityRule(condition, severity)


def severity_of(rules: Sequence[SeverityRule], mail: ParsedMail, default: str) -> str:
    """The severity of the first rule, in order, that holds; else `default`."""
    for rule in rules:
        if rule.condition.holds(mail):
            return rule.severity
    return default


@dataclass(frozen=True)
class KeyRule:
    """{field, extractor, pattern | start, end}: how to read an incident key from a mail."""

    field: str
    extractor: str
    pattern: str = ""
    start: str = ""
    end: str = ""
    compiled: object = field(default=None, compare=False, repr=False)

    def describe(self) -> str:
        if self.extractor == "regex":
            return f"{self.field} regex `{self.pattern}`"  # as typed: no repr() escaping
        parts = [f"start `{self.start}`"] if self.start else []
        parts += [f"end `{self.end}`"] if self.end else []
        return f"{self.field} {self.extractor} {' '.join(parts)}"

    def extract(self, mail: ParsedMail) -> str | None:
        """The incident key: trimmed, at most KEY_LENGTH characters; None when none."""
        key = self._extracted(mail)
        if key is None:
            return None
        key = key.strip()[:KEY_LENGTH].rstrip()
        return key or None

    def title(self, mail: ParsedMail) -> str | None:
        """The extraction as an incident's title: one line (runs of white space, line breaks
        too, become one space), capped as titles are (TITLE_LENGTH); None when empty."""
        text = self._extracted(mail)
        if text is None:
            return None
        text = " ".join(text.split())
        return title_of(text) if text else None

    def _extracted(self, mail: ParsedMail) -> str | None:
        located = self.locate(mail)
        return located[0] if located is not None else None

    def locate(self, mail: ParsedMail) -> tuple[str, int, int] | None:
        """The text this rule extracts, untrimmed, and the span [start, end) of the field's
        text it came from (a regex: the whole match); None when it extracts nothing."""
        text = field_text(mail, self.field)
        if self.extractor == "regex":
            found = self.compiled.search(text)  # type: ignore[attr-defined]
            if found is None:
                return None
            return "-".join(group or "" for group in found.groups()), *found.span()
        if self.extractor == "between":
            begin = text.find(self.start)
            if begin < 0:
                return None
            begin += len(self.start)
            stop = text.find(self.end, begin)
            return None if stop < 0 else (text[begin:stop], begin, stop)
        if self.extractor == "after":
            begin = text.find(self.start)
            if begin < 0:
                return None
            begin += len(self.start)
            line = text[begin:].split("\n", 1)[0]
            return line, begin, begin + len(line)
        stop = text.find(self.end)  # before
        if stop < 0:
            return None
        line = text[:stop].rsplit("\n", 1)[-1]
        return line, stop - len(line), stop

    def to_dict(self) -> dict:
        data = {"field": self.field, "extractor": self.extractor}
        if self.extractor == "regex":
            data["pattern"] = self.pattern
        if self.start:
            data["start"] = self.start
        if self.end:
            data["end"] = self.end
        return data


def parse_key_rule(data: object, where: str, *, reads: str = "key") -> KeyRule:
    """A key rule; `reads` names what it extracts in the messages ("key", "title")."""
    data = _check_keys(data, ("field", "extractor", "pattern", "start", "end"), where)
    name = _require_text(data, "field", where)
    if name not in KEY_FIELDS:
        raise RuleError(f"{where}: field {name!r} is not one of {', '.join(KEY_FIELDS)}")
    extractor = _require_text(data, "extractor", where)
    if extractor not in EXTRACTORS:
        raise RuleError(f"{where}: extractor {extractor!r} is not one of {', '.join(EXTRACTORS)}")
    needed = {
        "regex": ("pattern",),
        "between": ("start", "end"),
        "after": ("start",),
        "before": ("end",),
    }[extractor]
    for key in ("pattern", "start", "end"):
        if key in needed:
            _require_text(data, key, where)
        elif key in data:
            raise RuleError(f"{where}: {key} is not used by the {extractor} extractor")
    compiled = None
    if extractor == "regex":
        try:
            compiled = compile_re2(data["pattern"])
        except RuleError as error:
            raise RuleError(f"{where}: pattern: {error}") from error
        if compiled.groups < 1:  # type: ignore[attr-defined]
            raise RuleError(
                f"{where}: pattern `{data['pattern']}` has no capture group: put the {reads} "
                "in parentheses, as in `Alert: (\\S+) is`"  # as typed, not repr()
            )
    return KeyRule(
        name,
        extractor,
        data.get("pattern", ""),
        data.get("start", ""),
        data.get("end", ""),
        compiled,
    )


def field_text(mail: ParsedMail, name: str) -> str:
    if name == "subject":
        return mail.subject
    if name == "body":
        return mail.body
    if name == "from":
        return mail.from_
    if name in ("to", "cc"):
        return mail.to if name == "to" else mail.cc
    return mail.header(name.removeprefix("header:"))


def first_failure(conditions: Sequence[Condition], match: str, mail: ParsedMail) -> str | None:
    """None when the conditions pass; else which condition (or that none) failed."""
    if not conditions:
        return None
    if match == "any":
        if any(condition.holds(mail) for condition in conditions):
            return None
        return "no condition held: " + "; ".join(c.describe() for c in conditions)
    for condition in conditions:
        if not condition.holds(mail):
            return f"condition failed: {condition.describe()}"
    return None


def conditions_hold(conditions: Sequence[Condition], match: str, mail: ParsedMail) -> bool:
    """For resolve rules: no rules means no mail resolves."""
    return bool(conditions) and first_failure(conditions, match, mail) is None


def extract_key(rules: Sequence[KeyRule], mail: ParsedMail) -> tuple[str, KeyRule] | None:
    """The first rule, in order, that extracts a key."""
    for rule in rules:
        key = rule.extract(mail)
        if key is not None:
            return key, rule
    return None


def subject_key(subject: str) -> str:
    """per_subject's comparison: case-insensitive, all whitespace removed (and, as it may
    serve as a key, at most KEY_LENGTH characters)."""
    return _WHITESPACE.sub("", subject).casefold()[:KEY_LENGTH]
