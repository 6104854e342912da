"""The parser: decoded subjects, HTML made text, bad input parsed as far as possible."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from app.core.intake.mail import (
    MAX_HEADER_COUNT,
    MAX_MATCH_TEXT,
    TITLE_LENGTH,
    TRUNCATION_MARK,
    parse_mail,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_an_rfc2047_base64_subject_ending_in_a_newline_is_one_line():
    # Icinga encodes the subject with a trailing newline inside the base64.
    raw = (
        b"From: icinga@mon.example.net\r\nTo: icinga@alerts.example.com\r\n"
        b"Subject: =?utf-8?B?W1BST0JMRU1dIGRiMDEgaXMgRE9XTgo=?=\r\n\r\nbody\r\n"
    )
    assert parse_mail(raw).subject == "[PROBLEM] db01 is DOWN"


def test_html_only_mail_becomes_text_with_links_kept():
    parsed = parse_mail((FIXTURES / "corpus" / "06-alertmanager-firing.eml").read_bytes())
    assert "View in Alertmanager (http://am.example.net/#/alerts)" in parsed.body
    assert "summary = p99 latency above 2s for 10m" in parsed.body
    assert "<td>" not in parsed.body


def test_text_plain_is_preferred_over_html():
    raw = (
        b"Subject: both\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/html\r\n\r\n<p>from html</p>\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nfrom plain\r\n--b--\r\n"
    )
    assert parse_mail(raw).body.strip() == "from plain"


def test_an_unknown_charset_is_replaced_and_recorded():
    raw = b"Subject: x\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\ncaf\xe9 ok\r\n"
    parsed = parse_mail(raw)
    assert "caf\ufffd ok" in parsed.body
    assert any("x-klingon" in defect for defect in parsed.defects)


def test_header_count_and_matching_text_are_capped():
    headers = b"".join(b"X-Filler-%d: v\r\n" % i for i in range(MAX_HEADER_COUNT + 50))
    parsed = parse_mail(headers + b"Subject: late\r\n\r\n" + b"z" * (MAX_MATCH_TEXT + 10))
    assert parsed.subject == ""  # past the cap, never parsed
    assert any("header fields" in defect for defect in parsed.defects)
    assert parsed.body_truncated and parsed.body.endswith(TRUNCATION_MARK)


def test_no_line_break_survives_in_any_header_value():
    raw = b"Subject: a\r\n b\r\nX-Evil: =?utf-8?q?x=0D=0ABcc:_y@z?=\r\n\r\n"
    parsed = parse_mail(raw)
    assert parsed.subject == "a b"
    assert all("\n" not in v and "\r" not in v for vs in parsed.headers.values() for v in vs)


def cpython_email_samples() -> list[Path]:
    spec = importlib.util.find_spec("test")
    assert spec is not None and spec.origin, "CPython's test package is needed for these samples"
    folder = Path(spec.origin).parent / "test_email" / "data"
    return sorted(folder.glob("msg_*.txt"))


@pytest.mark.parametrize("path", cpython_email_samples(), ids=lambda path: path.name)
def test_cpython_test_email_samples_never_raise(path):
    parsed = parse_mail(path.read_bytes())
    assert parsed.size == path.stat().st_size and len(parsed.sha256) == 64


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00\xff\xfe garbage", b"Subject: =?bogus?x?zz?=\r\n\r\n", b"Content-Type: multipart/"
     b'mixed; boundary="never"\r\n\r\nno parts at all', b":\r\n:\r\n\r\n", b"\n\n\n.\n"],
)  # fmt: skip
def test_junk_is_parsed_as_far_as_possible(raw):
    assert parse_mail(raw).size == len(raw)


# Malformed mail loses no text without saying so (issue 21, item 7).


def nested_multipart(depth: int) -> bytes:
    """Subject first, then `depth` multiparts one inside the other around one text part."""
    head = b"From: a@mon.example.net\r\nSubject: deep subject\r\nMIME-Version: 1.0\r\n"
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (level, level)
        for level in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--" % level for level in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\ninner text" + closing + b"\r\n"


def test_a_multipart_nested_2000_deep_keeps_its_subject_and_its_text():
    # The parser's RecursionError emptied everything, the Subject (the first header) too.
    parsed = parse_mail(nested_multipart(2000))
    assert parsed.subject == "deep subject"
    assert parsed.from_ == "a@mon.example.net"
    assert "inner text" in parsed.body
    assert any("nested too deep" in defect for defect in parsed.defects)


def test_html_nested_deeper_than_the_html_parser_goes_keeps_its_text_and_says_so():
    # libxml2 stops at 256 levels and inscriptis then wrote nothing, with no defect.
    html = "<p>before</p>" + "<div>" * 100_000 + "inner" + "</div>" * 100_000 + "<p>after</p>"
    raw = b"Subject: html\r\nContent-Type: text/html\r\n\r\n" + html.encode()
    parsed = parse_mail(raw)
    assert parsed.body.split() == ["before", "inner", "after"]
    assert any("HTML" in defect and "layout" in defect for defect in parsed.defects)


def test_a_2_mib_subject_on_one_line_keeps_its_start_and_its_title_is_capped():
    # The header cap dropped the whole line: the incident was "(no subject)".
    raw = b"From: a@b.example\r\nSubject: disk " + b"x" * (2 * 1024 * 1024) + b"\r\n\r\nbody\r\n"
    parsed = parse_mail(raw)
    assert parsed.subject.startswith("disk xxx") and len(parsed.subject) > 100_000
    assert any("Subject" in defect and "128 KiB" in defect for defect in parsed.defects)
    assert len(parsed.title) == TITLE_LENGTH and parsed.title.endswith("…")
    assert parsed.title.startswith("disk xxx")
    assert any(f"first {TITLE_LENGTH - 1}" in defect for defect in parsed.defects)
    assert parsed.body.strip() == "body"


def test_a_short_subject_is_its_own_title_with_no_note():
    parsed = parse_mail(b"Subject: " + b"y" * TITLE_LENGTH + b"\r\n\r\nbody\r\n")
    assert parsed.title == parsed.subject == "y" * TITLE_LENGTH and parsed.defects == ()


@pytest.mark.parametrize(
    ("subject", "shown", "said"),
    [
        (b"=?utf-8?b?!!!?= tail", " tail", "InvalidBase64Characters"),
        (b"caf\xe9 latin-1 bytes", "caf\ufffd latin-1 bytes", "UndecodableBytes"),
        (b"=?utf-8?q?caf=E9?=", "caf\ufffd", "UndecodableBytes"),
    ],
)
def test_a_header_that_decodes_with_loss_records_a_defect(subject, shown, said):
    parsed = parse_mail(b"Subject: " + subject + b"\r\n\r\nbody\r\n")
    assert parsed.subject == shown.strip()
    assert any(defect.startswith("header Subject") and said in defect for defect in parsed.defects)


@pytest.mark.parametrize(
    "content_type",
    [b'multipart/mixed; boundary="never"', b"multipart/mixed"],
    ids=["boundary-never-found", "no-boundary"],
)
def test_a_multipart_without_parts_shows_its_body_as_it_came(content_type):
    raw = b"Subject: s\r\nContent-Type: " + content_type + b"\r\n\r\nDISK FULL on db01\r\n"
    parsed = parse_mail(raw)
    assert "DISK FULL on db01" in parsed.body
    assert any("as it came" in defect for defect in parsed.defects)


def test_a_mail_with_no_text_part_takes_the_text_of_another_or_says_it_has_none():
    forwarded = (
        b"Subject: fwd\r\nContent-Type: message/rfc822\r\n\r\n"
        b"Subject: inner\r\nContent-Type: text/plain\r\n\r\nDISK FULL on db01\r\n"
    )
    assert "DISK FULL on db01" in parse_mail(forwarded).body
    binary = b"Subject: bin\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\x02\r\n"
    parsed = parse_mail(binary)
    assert parsed.body == "" and any("no text part" in defect for defect in parsed.defects)


def test_text_in_a_charset_it_is_not_written_in_records_a_defect():
    raw = b"Subject: s\r\nContent-Type: text/plain; charset=utf-16\r\n\r\nDISK FULL\r\n"
    assert any("\ufffd" in defect for defect in parse_mail(raw).defects)


def test_the_cut_text_and_message_id_are_recorded_as_defects():
    long_id = b"<" + b"i" * 2000 + b"@x.example>"
    raw = b"Message-ID: " + long_id + b"\r\n\r\n" + b"z" * (MAX_MATCH_TEXT + 10)
    parsed = parse_mail(raw)
    assert any("256 KiB" in defect for defect in parsed.defects)
    assert any("Message-ID" in defect for defect in parsed.defects)
