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
