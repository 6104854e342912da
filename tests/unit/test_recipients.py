"""A piped mail without an envelope is for the addresses its routing headers name."""

from __future__ import annotations

from app.core.intake.recipients import header_recipients


def test_recipients_come_from_delivered_to_to_cc_and_bcc_in_that_order():
    raw = (
        b"To: Nagios <nagios@alerts.example.com>, ops@example.com\r\n"
        b"Cc: zabbix@alerts.example.com\r\nDelivered-To: icinga@alerts.example.com\r\n"
        b"Bcc: hidden@alerts.example.com\r\nSubject: PROBLEM\r\n\r\nbody\r\n"
    )
    assert header_recipients(raw) == [
        "icinga@alerts.example.com",
        "nagios@alerts.example.com",
        "ops@example.com",
        "zabbix@alerts.example.com",
        "hidden@alerts.example.com",
    ]


def test_a_mail_without_routing_headers_names_no_recipient():
    assert header_recipients(b"From: x@example.net\r\nSubject: hi\r\n\r\nbody\r\n") == []
    assert header_recipients(b"To: undisclosed-recipients:;\r\n\r\n") == []


def test_a_body_or_a_header_that_breaks_the_parser_still_names_its_recipients():
    # `mailsiren ingest` without --to answered 75 (try again) forever: RecursionError.
    from tests.unit.test_mail import nested_multipart

    deep = b"To: nagios@alerts.example.com\r\n" + nested_multipart(2000)
    assert header_recipients(deep) == ["nagios@alerts.example.com"]
    comments = b"To: zabbix@alerts.example.com " + b"(" * 5000 + b"\r\n\r\nbody\r\n"
    assert header_recipients(comments) == ["zabbix@alerts.example.com"]
