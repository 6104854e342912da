"""Fuzz of the intake path (parse, rules, store) over generated malformed mails, on both
backends: every mail is stored with one outcome per source, and the ingest returns.

Deterministic (derandomize, no example database), so CI sees the same examples every run."""

from __future__ import annotations

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from app.core.configfile import import_config
from app.core.intake.mail import TITLE_LENGTH, parse_mail
from app.core.intake.pipeline import ingest_mail
from app.core.names import MAIL_OUTCOMES
from app.core.store.models import Mail, MailOutcome

SOURCES = {
    "subjects@alerts.example.com": {
        "creation": "per_subject",
        "filter": [{"field": "subject", "op": "not_contains", "value": "ignore me"}],
    },
    "keys@alerts.example.com": {
        "creation": "by_key",
        "on_no_key": "new",
        "key_rule": [{"field": "body", "extractor": "regex", "pattern": r"host=(\w+)"}],
        "resolve_rule": [{"field": "subject", "op": "starts_with", "value": "RESOLVED"}],
    },
}
FUZZ = settings(
    max_examples=60,
    derandomize=True,  # the same examples on every run: no flaky CI
    database=None,
    deadline=None,  # a slow machine is no failure; the work per mail is capped in mail.py
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=False,
)
MARKER = "DISKFULL"
FIRST_SUBJECT = f"Subject: {MARKER} on db01".encode()

EOLS = st.sampled_from([b"\r\n", b"\n", b"\r", b"\n\r", b"\r\r\n"])
CHARSETS = st.sampled_from(
    ["utf-8", "us-ascii", "iso-8859-1", "utf-16", "utf-7", "x-klingon", "", '"', "utf-8\x00"]
)
ENCODINGS = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "bogus"])


@st.composite
def encoded_word(draw) -> bytes:
    """RFC 2047, well formed or not: bogus charsets and encodings, bad base64, raw 8-bit."""
    charset = draw(CHARSETS).encode("utf-8", "replace")
    encoding = draw(st.sampled_from([b"B", b"Q", b"b", b"x", b""]))
    payload = draw(
        st.one_of(
            st.sampled_from([b"W0ZJUklOR10gZGlzaw==", b"caf=E9", b"!!!", b"YWJ", b"=?=", b"_"]),
            st.binary(max_size=30).map(lambda data: data.replace(b"?=", b"")),
        )
    )
    return b"=?" + charset + b"?" + encoding + b"?" + payload + b"?="


HEADER_NAMES = st.sampled_from(
    [b"Subject", b"From", b"To", b"Cc", b"Message-ID", b"In-Reply-To", b"References", b"Date",
     b"Content-Type", b"Content-Transfer-Encoding", b"Content-Disposition", b"MIME-Version",
     b"Auto-Submitted", b"X-Alert", b"Subj\xe9ct", b"", b" Folded", b"X-\x00"]
)  # fmt: skip
HEADER_VALUES = st.one_of(
    st.text(max_size=60).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=60),
    encoded_word(),
    st.lists(encoded_word(), max_size=4).map(b" ".join),
    st.sampled_from(
        [
            b"",
            b"\x00",
            b"<a@b>",
            b"a@b, ,, <@>",
            b'"' * 300,
            b"(" * 300,
            b"multipart/mixed",
            b"text/html; charset=utf-16",
            b"attachment",
        ]
    ),  # fmt: skip
    st.sampled_from([70_000, 140_000, 300_000]).map(lambda size: b"y" * size),  # huge lines
)


@st.composite
def header_field(draw, eol: bytes) -> bytes:
    name, value = draw(HEADER_NAMES), draw(HEADER_VALUES)
    if draw(st.booleans()):  # folded, perhaps at odd places
        cut = draw(st.integers(0, len(value)))
        value = value[:cut] + eol + draw(st.sampled_from([b" ", b"\t", b""])) + value[cut:]
    return name + b": " + value + eol


@st.composite
def leaf_part(draw, eol: bytes) -> bytes:
    """One MIME part: its headers (or none) and a payload that says DISKFULL host=db01."""
    kind = draw(
        st.sampled_from(["text/plain", "text/html", "application/octet-stream", "text/csv",
                         "message/rfc822", "image/png", "bogus", ""])
    )  # fmt: skip
    text = draw(
        st.one_of(
            st.just(f"{MARKER} host=db01"),
            st.text(max_size=80).map(lambda noise: f"{noise} {MARKER} host=db01 {noise}"),
            st.sampled_from([1, 300, 5000]).map(
                lambda depth: "<div>" * depth + MARKER + "</div>" * depth
            ),
            st.just(f"<p>{MARKER}<script>x</script><a href='http://x/y'>link</a>"),
        )
    )
    payload = text.encode(draw(st.sampled_from(["utf-8", "utf-16", "latin-1"])), "replace")
    if draw(st.booleans()):
        payload += draw(st.binary(max_size=40))  # 8-bit junk and NUL
    headers = b""
    if kind:
        charset = draw(CHARSETS)
        headers += f"Content-Type: {kind}; charset={charset}".encode() + eol
    if draw(st.booleans()):
        headers += b"Content-Transfer-Encoding: " + draw(ENCODINGS).encode() + eol
    return headers + eol + payload


@st.composite
def body(draw, eol: bytes, depth: int = 0) -> tuple[bytes, bytes]:
    """(Content-Type header line, body): a leaf, or a multipart with broken boundaries."""
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        part = draw(leaf_part(eol))
        head, _, payload = (
            part.partition(eol + eol) if part.find(eol + eol) > 0 else (b"", b"", part)
        )
        return head + eol if head else b"", payload
    boundary = draw(st.sampled_from([b"b1", b"=_x", b"", b"a" * 80, b"-", b"b\x00"]))
    said = draw(st.sampled_from([boundary, boundary + b"x", b""]))  # the header may lie
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        head, payload = draw(body(eol, depth + 1))
        parts.append(b"--" + boundary + eol + head + eol + payload + eol)
    closing = draw(st.sampled_from([b"--" + boundary + b"--" + eol, b"", b"--" + boundary]))
    preamble = draw(st.sampled_from([b"", b"This is a multi-part message." + eol]))
    content_type = b'Content-Type: multipart/mixed; boundary="' + said + b'"' + eol
    return content_type, preamble + b"".join(parts) + closing


@st.composite
def malformed_mail(draw) -> bytes:
    eol = draw(EOLS)
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=500))  # binary garbage, no structure at all
    fields = draw(st.lists(header_field(eol), max_size=6))
    if draw(st.booleans()):
        fields.insert(0, FIRST_SUBJECT + eol)
    content_type, text = draw(body(eol))
    depth = draw(st.sampled_from([0, 0, 0, 0, 2, 40, 400, 1100]))  # deep nesting
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="n%d"%s%s--n%d%s' % (level, eol, eol, level, eol)
        for level in range(depth)
    )
    mail = b"".join(fields) + (opening if depth else b"") + content_type + eol + text
    if draw(st.integers(0, 9)) == 0:
        mail = mail.replace(eol + eol, eol, 1)  # no blank line after the headers
    return mail


ENVELOPE_SENDERS = st.one_of(
    st.none(), st.just("bounce@mon.example.net"), st.text(max_size=30), st.just("bo\udcffx@y")
)


@given(raw=malformed_mail(), envelope_from=ENVELOPE_SENDERS)
@FUZZ
def test_every_malformed_mail_is_stored_with_an_outcome_for_each_source(
    database, fuzz_sources, raw, envelope_from
):
    result = ingest_mail(database, raw, list(SOURCES), via="ingest", envelope_from=envelope_from)
    assert result.stored and len(result.outcomes) == len(SOURCES)
    assert all(outcome.outcome in MAIL_OUTCOMES for outcome in result.outcomes)
    with database.read() as session:
        assert session.get(Mail, result.mail_id).raw == raw
        stored = session.exec(select(MailOutcome).where(MailOutcome.mail_id == result.mail_id))
        assert len(stored.all()) == len(SOURCES)


@given(raw=malformed_mail())
@settings(FUZZ, max_examples=150)
def test_a_first_subject_survives_whatever_the_body_does_and_fits_a_title(raw):
    parsed = parse_mail(raw)
    if raw.startswith(FIRST_SUBJECT) and raw[len(FIRST_SUBJECT) : len(FIRST_SUBJECT) + 1] in (
        b"\r",
        b"\n",
    ):
        assert parsed.subject.startswith(f"{MARKER} on db01")
    assert len(parsed.title) <= TITLE_LENGTH
    for text in (parsed.subject, parsed.from_, parsed.body, *parsed.defects):
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogate: every column takes it
    assert all("\n" not in value for values in parsed.headers.values() for value in values)


def fuzz_sources_document() -> str:
    sources = [{"name": address.split("@")[0], "address": address, **settings}
               for address, settings in SOURCES.items()]  # fmt: skip
    return tomli_w.dumps({"source": sources})


@pytest.fixture
def fuzz_sources(database, user) -> None:
    import_config(database, user, fuzz_sources_document())
