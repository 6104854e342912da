"""The listener as a real process, with real clients: the corpus, TLS, limits, failures."""

from __future__ import annotations

import asyncio
import json
import smtplib
import socket
import sqlite3
import ssl
import subprocess
from email import message_from_bytes
from pathlib import Path

import aiosmtplib
import pytest

from tests.e2e.process import MAILSIREN, mailsiren
from tests.e2e.serve import running_serve

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CORPUS = sorted((FIXTURES / "corpus").glob("*.eml"))
EXPECTED_OUTCOMES = {
    "01-nagios-problem-disk.eml": "created",
    "02-nagios-problem-load.eml": "created",
    "03-nagios-problem-disk-again.eml": "appended",
    "04-nagios-recovery-disk.eml": "resolved",
    "05-nagios-recovery-unknown.eml": "orphan_resolve",
    "06-alertmanager-firing.eml": "created",
    "07-alertmanager-firing-again.eml": "appended",
    "08-alertmanager-resolved.eml": "resolved",
    "09-zabbix-problem.eml": "created",
    "10-zabbix-resolved.eml": "resolved",
    "11-autoreply.eml": "loop",
}


@pytest.fixture
def sources():
    imported = mailsiren("config", "import", str(FIXTURES / "sources.toml"))
    assert imported.returncode == 0, imported.stderr


def recipient_of(raw: bytes) -> str:
    return message_from_bytes(raw)["To"]


def mail_log() -> list[dict]:
    listed = mailsiren("mails", "list", "--json", "--limit", "1000")
    assert listed.returncode == 0, listed.stderr
    return list(reversed(json.loads(listed.stdout)))


def incidents() -> dict[str, dict]:
    listed = mailsiren("incidents", "list", "--state", "all", "--json")
    return {incident["key"]: incident for incident in json.loads(listed.stdout)}


def check_corpus_outcomes() -> None:
    log = mail_log()
    assert [entry["outcome"] for entry in log] == list(EXPECTED_OUTCOMES.values())
    assert log[4]["reason"].startswith("resolve rule held, but no open incident")
    assert "Auto-Submitted" in log[10]["reason"]
    found = incidents()
    disk = found["web01-Disk /var"]
    assert (disk["state"], disk["mail_count"], disk["resolved_by"]) == ("resolved", 3, "email")
    assert disk["title"] == "** PROBLEM Service Alert: web01/Disk /var is CRITICAL **"
    assert found["db02-Load"]["state"] == "pending"
    latency = found["HighLatency (api prod critical)"]
    assert (latency["state"], latency["mail_count"], latency["severity"]) == (
        "resolved",
        3,
        "warning",
    )
    assert (found["4711"]["state"], found["4711"]["mail_count"]) == ("resolved", 2)
    assert len(found) == 4


def test_the_corpus_through_serve_with_smtplib(sources):
    with running_serve() as serve, smtplib.SMTP("127.0.0.1", serve.port) as client:
        for path in CORPUS:
            raw = path.read_bytes()
            refused = client.sendmail("monitor@mon.example.net", [recipient_of(raw)], raw)
            assert refused == {}
    check_corpus_outcomes()


def test_the_corpus_through_ingest(sources):
    for path in CORPUS:
        stored = subprocess.run(
            [*MAILSIREN, "ingest"], input=path.read_bytes(), capture_output=True
        )
        assert stored.returncode == 0, stored.stderr
    check_corpus_outcomes()


def test_swaks_delivers_over_starttls(sources):
    raw = CORPUS[0]
    with running_serve() as serve:
        sent = subprocess.run(
            ["swaks", "--server", f"127.0.0.1:{serve.port}", "--tls",
             "--from", "nagios@mon.example.net", "--to", "nagios@alerts.example.com",
             "--data", f"@{raw}"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert " -> STARTTLS" in sent.stdout and "<-  220 " in sent.stdout
    assert "<~  250 2.0.0 Stored as mail 1" in sent.stdout  # "~": said inside TLS
    assert [entry["outcome"] for entry in mail_log()] == ["created"]


def test_aiosmtplib_verifies_the_self_signed_certificate(sources, isolated_home):
    raw = CORPUS[5].read_bytes()
    with running_serve() as serve:
        certificate = isolated_home / "data" / "mailsiren" / "listener.crt"
        context = ssl.create_default_context(cafile=str(certificate))

        async def send() -> tuple:
            return await aiosmtplib.send(
                raw, sender="am@mon.example.net", recipients=["PROMETHEUS@alerts.example.com"],
                hostname="localhost", port=serve.port, start_tls=True, tls_context=context,
            )  # fmt: skip

        errors, reply = asyncio.run(send())
    assert errors == {} and reply.startswith("2.0.0 Stored as mail")
    assert incidents()["HighLatency (api prod critical)"]["state"] == "pending"


def test_recipients_are_checked_and_nothing_is_relayed(sources):
    with running_serve() as serve, smtplib.SMTP("127.0.0.1", serve.port) as client:
        client.ehlo()
        client.mail("x@example.net")
        code, reply = client.rcpt("someone@elsewhere.example")
        assert code == 550 and reply.startswith(b"5.1.1")
        for _ in range(100):
            assert client.rcpt("nagios@alerts.example.com")[0] == 250
        code, reply = client.rcpt("nagios@alerts.example.com")
        assert code == 452 and b"Too many recipients" in reply
        client.rset()
        assert "SIZE 10485760" in client.esmtp_features.get("size", "") or client.has_extn("size")
    assert mail_log() == []


def test_an_oversize_mail_is_refused_with_552_and_the_listener_stays_up(sources):
    big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 11_000
    with running_serve() as serve:
        with smtplib.SMTP("127.0.0.1", serve.port) as client:
            with pytest.raises(smtplib.SMTPException) as caught:
                client.sendmail("x@example.net", ["nagios@alerts.example.com"], big)
            assert "552" in str(caught.value)
        with smtplib.SMTP("127.0.0.1", serve.port) as client:
            client.sendmail("x@example.net", ["nagios@alerts.example.com"], CORPUS[0].read_bytes())
    assert [entry["outcome"] for entry in mail_log()] == ["created"]


def converse(port: int, lines: list[bytes]) -> bytes:
    """Write raw SMTP bytes (no client library to tidy them up) and read every reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        reader = connection.makefile("rb")
        replies = [reader.readline()]
        for line in lines:
            connection.sendall(line)
            replies.append(reader.readline())
            while replies[-1][3:4] == b"-":
                replies.append(reader.readline())
        return b"".join(replies)


def test_smuggled_end_of_data_never_makes_a_second_mail(sources):
    smuggled = (
        b"Subject: ** PROBLEM Service Alert: web01/Disk /var is CRITICAL **\r\n\r\n"
        b"first\n.\nMAIL FROM:<evil@x>\r\nRCPT TO:<nagios@alerts.example.com>\r\nDATA\r\n"
        b"Subject: ** PROBLEM Service Alert: smuggled/one is CRITICAL **\r\n\r\nsecond\r\n.\n"
        b"third\n.\r\nfourth\r.\r\nend\r\n.\r\n"
    )
    with running_serve() as serve:
        replies = converse(
            serve.port,
            [b"EHLO test\r\n", b"MAIL FROM:<m@x>\r\n", b"RCPT TO:<nagios@alerts.example.com>\r\n",
             b"DATA\r\n", smuggled, b"QUIT\r\n"],
        )  # fmt: skip
    assert replies.count(b"250 2.0.0 Stored as mail") == 1, replies
    log = mail_log()
    assert len(log) == 1 and log[0]["outcome"] == "created"
    assert "smuggled" not in json.dumps(incidents())


def test_a_line_over_1000_bytes_is_refused_and_the_session_goes_on(sources):
    with running_serve() as serve:
        replies = converse(
            serve.port,
            [b"EHLO test\r\n", b"MAIL FROM:<m@x>\r\n", b"RCPT TO:<nagios@alerts.example.com>\r\n",
             b"DATA\r\n", b"Subject: long\r\n\r\n" + b"y" * 1500 + b"\r\n.\r\n",
             b"NOOP\r\n", b"QUIT\r\n"],
        )  # fmt: skip
    assert b"500 Line too long" in replies and b"250 OK" in replies  # NOOP still answered
    assert mail_log() == []


def test_a_locked_database_answers_451_and_the_retry_is_stored(sources, isolated_home):
    database = isolated_home / "data" / "mailsiren" / "mailsiren.db"
    raw = CORPUS[0].read_bytes()
    with running_serve() as serve:
        blocker = sqlite3.connect(database, timeout=1)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            with (
                smtplib.SMTP("127.0.0.1", serve.port, timeout=60) as client,
                pytest.raises(smtplib.SMTPDataError) as caught,
            ):
                client.sendmail("x@example.net", ["nagios@alerts.example.com"], raw)
            assert caught.value.smtp_code == 451
            assert caught.value.smtp_error.startswith(b"4.3.0")
        finally:
            blocker.rollback()
            blocker.close()
        with smtplib.SMTP("127.0.0.1", serve.port) as client:
            assert client.sendmail("x@example.net", ["nagios@alerts.example.com"], raw) == {}
    assert [entry["outcome"] for entry in mail_log()] == ["created"]
