"""The parser: decoded subjects, HTML made text, bad input parsed as far as possible."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from app.core.intake.mail import MAX_HEADER_COUNT, MAX_MATCH_TEXT, TRUNCATION_MARK, parse_mail

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
