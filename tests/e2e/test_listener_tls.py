"""STARTTLS at the listener, with real clients: what EHLO advertises inside TLS, a second
STARTTLS, and a failed handshake said in one line of serve's log."""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from pathlib import Path

import pytest

from tests.e2e.process import mailsiren, mailsiren_json
from tests.e2e.serve import running_serve
from tests.mails import SENDER, SOURCE, alert_mail

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def sources():
    imported = mailsiren("config", "import", str(FIXTURES / "sources.toml"))
    assert imported.returncode == 0, imported.stderr


def trusting_serve(isolated_home: Path) -> ssl.SSLContext:
    """A client context that trusts serve's self-signed certificate (made when it started)."""
    certificate = isolated_home / "data" / "mailsiren" / "listener.crt"
    return ssl.create_default_context(cafile=str(certificate))


def nagios_alert() -> bytes:
    return alert_mail("** PROBLEM Service Alert: web01/Disk is CRITICAL **")


def test_ehlo_inside_tls_advertises_no_auth(sources, isolated_home):
    with running_serve() as serve, smtplib.SMTP("127.0.0.1", serve.port, timeout=30) as client:
        client.ehlo()
        assert client.has_extn("starttls") and not client.has_extn("auth")
        client.starttls(context=trusting_serve(isolated_home))
        code, features = client.ehlo()
        assert code == 250
        assert b"AUTH" not in features and not client.has_extn("auth"), features
        assert not client.has_extn("starttls")  # nor STARTTLS again


def test_a_second_starttls_inside_tls_gets_503_and_the_session_goes_on(sources, isolated_home):
    with running_serve() as serve:
        with smtplib.SMTP("127.0.0.1", serve.port, timeout=30) as client:
            client.starttls(context=trusting_serve(isolated_home))
            assert client.docmd("STARTTLS") == (503, b"5.5.1 TLS is already active")
            assert client.sendmail(SENDER, [SOURCE], nagios_alert()) == {}
        assert "Traceback" not in serve.output()
    assert [mail["outcome"] for mail in mailsiren_json("mails", "list")] == ["created"]


def start_tls_by_hand(port: int) -> socket.socket:
    """A connection that has said EHLO and STARTTLS and read the 220, TLS not begun."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    reader = connection.makefile("rb")
    assert reader.readline().startswith(b"220 ")
    connection.sendall(b"EHLO client\r\nSTARTTLS\r\n")
    while not (line := reader.readline()).startswith(b"250 "):
        assert line.startswith(b"250-")
    assert reader.readline().startswith(b"220 ")
    return connection


def test_a_failed_tls_handshake_is_one_line_in_the_log(sources, isolated_home):
    with running_serve() as serve:
        # a client that does not trust the certificate (Alertmanager's default is to verify)
        with smtplib.SMTP("127.0.0.1", serve.port, timeout=30) as untrusting:
            untrusting_port = untrusting.sock.getsockname()[1]
            with pytest.raises(ssl.SSLCertVerificationError):
                untrusting.starttls(context=ssl.create_default_context())
        # a client that speaks no TLS at all after STARTTLS
        with start_tls_by_hand(serve.port) as plain:
            plain_port = plain.getsockname()[1]
            plain.sendall(b"QUIT\r\n")
            assert plain.recv(1024) == b""  # the server hangs up once the handshake fails
        with smtplib.SMTP("127.0.0.1", serve.port, timeout=30) as client:
            client.starttls(context=trusting_serve(isolated_home))
            assert client.sendmail(SENDER, [SOURCE], nagios_alert()) == {}  # still serving
        log = serve.output()
    assert "Traceback" not in log, log
    failures = [line for line in log.splitlines() if "TLS handshake failed" in line]
    assert len(failures) == 2, log
    assert re.search(
        rf"127\.0\.0\.1:{untrusting_port}: TLS handshake failed: \[SSL: \w*UNKNOWN_CA\] .*; "
        "connection closed$",
        failures[0],
    ), failures
    assert failures[1].endswith(
        f"127.0.0.1:{plain_port}: TLS handshake failed: [SSL: WRONG_VERSION_NUMBER] wrong "
        "version number; connection closed"
    ), failures
