"""Nothing acknowledged is lost: SIGKILL during a stream, and ingest's exit codes."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import sqlite3
import subprocess
import threading
from email.utils import make_msgid
from pathlib import Path

import pytest

from tests.e2e.process import MAILSIREN, mailsiren
from tests.e2e.serve import child_pids, running_serve
from tests.mails import SENDER, alert_mail

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NAGIOS = "nagios@alerts.example.com"


@pytest.fixture
def sources():
    imported = mailsiren("config", "import", str(FIXTURES / "sources.toml"))
    assert imported.returncode == 0, imported.stderr


def send_alert(client: smtplib.SMTP, number: int) -> str:
    """Alert `number` in the session (raises unless the reply was 250); its Message-ID."""
    message_id = make_msgid(idstring=str(number), domain="mon.example.net")
    subject = f"** PROBLEM Service Alert: host{number}/Disk is CRITICAL **"
    raw = alert_mail(subject, "DISK CRITICAL\n" * 100, to=NAGIOS, message_id=message_id)
    client.sendmail(SENDER, [NAGIOS], raw)
    return message_id


def stream(port: int, acknowledged: list[str], stop: threading.Event, *, sessions: int) -> None:
    """Deliver mails until the server dies; keep the Message-IDs that got a 250."""

    def one_session(offset: int) -> None:
        number = offset
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                while not stop.is_set():
                    acknowledged.append(send_alert(client, number))
                    number += sessions
        except (smtplib.SMTPException, OSError):
            return  # the server was killed: whatever was not acknowledged may be lost

    threads = [threading.Thread(target=one_session, args=(i,)) for i in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


def test_sigkill_while_mails_stream_in_loses_nothing_acknowledged(sources, isolated_home):
    acknowledged: list[str] = []
    stop = threading.Event()
    with running_serve(graceful=False) as serve:
        streamer = threading.Thread(
            target=stream, args=(serve.port, acknowledged, stop), kwargs={"sessions": 4}
        )
        streamer.start()
        while len(acknowledged) < 200:  # wait for real traffic, counted, not timed
            if not streamer.is_alive():
                pytest.fail("the stream stopped before the kill: " + serve.output())
            streamer.join(timeout=0.05)
        serve.process.send_signal(signal.SIGKILL)
        serve.process.wait(timeout=30)
        stop.set()
        streamer.join(timeout=120)
    database = isolated_home / "data" / "mailsiren" / "mailsiren.db"
    with sqlite3.connect(database) as connection:
        stored = {row[0] for row in connection.execute("SELECT message_id FROM mail")}
        outcomes = connection.execute("SELECT count(*) FROM mail_outcome").fetchone()[0]
    missing = [message_id for message_id in acknowledged if message_id not in stored]
    assert len(acknowledged) >= 200 and missing == []
    assert outcomes == len(stored)  # every stored mail has its outcome, in the same commit

    with running_serve() as serve, smtplib.SMTP("127.0.0.1", serve.port) as client:
        send_alert(client, 10**6)  # and the restarted listener takes mail again


def ingest(raw: bytes, *arguments: str, environment: dict | None = None):
    return subprocess.run(
        [*MAILSIREN, "ingest", *arguments],
        input=raw,
        capture_output=True,
        env={**os.environ, **(environment or {})},
        timeout=60,
    )


def test_ingest_routes_by_headers_or_by_to_and_answers_with_sysexits(sources, tmp_path):
    raw = (FIXTURES / "corpus" / "01-nagios-problem-disk.eml").read_bytes()
    assert ingest(b"From nagios@mon.example.net Fri Nov 20 03:01:00 2026\n" + raw).returncode == 0
    stranger = raw.replace(b"To: nagios@alerts.example.com", b"To: nobody@alerts.example.com")
    refused = ingest(stranger)
    assert refused.returncode == 67 and b"nobody@alerts.example.com" in refused.stderr
    assert ingest(stranger, "--to", "NAGIOS@alerts.example.com").returncode == 0
    (tmp_path / "not-a-database").mkdir()
    broken = ingest(raw, environment={"MAILSIREN_DB": str(tmp_path / "not-a-database")})
    assert broken.returncode == 75 and b"try again later" in broken.stderr
    assert ingest(raw).returncode == 0  # the same bytes and Message-ID again: a duplicate
    listed = mailsiren("mails", "list", "--json")
    outcomes = [entry["outcome"] for entry in reversed(json.loads(listed.stdout))]
    assert outcomes == ["created", "appended", "duplicate"]


def storage_child(serve_pid: int) -> int:
    """The pid of serve's storage process."""
    [child] = child_pids(serve_pid, "app.server.storage")
    return child


def send_until_stored(port: int, number: int, attempts: int = 200) -> int:
    """Deliver like a real sender: a 451 means try again. Returns the attempts used."""
    for attempt in range(1, attempts + 1):
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                send_alert(client, number)
            return attempt
        except smtplib.SMTPDataError as error:
            assert error.smtp_code == 451, error
    pytest.fail(f"still not stored after {attempts} attempts")


def test_a_killed_storage_process_costs_a_retry_never_a_mail(sources, isolated_home):
    acknowledged: list[str] = []
    stop = threading.Event()
    with running_serve() as serve:
        first_child = storage_child(serve.process.pid)
        streamer = threading.Thread(
            target=stream, args=(serve.port, acknowledged, stop), kwargs={"sessions": 4}
        )
        streamer.start()
        while len(acknowledged) < 100:
            if not streamer.is_alive():
                pytest.fail("the stream stopped before the kill: " + serve.output())
            streamer.join(timeout=0.05)
        os.kill(first_child, signal.SIGKILL)  # the sessions waiting on it get 451 and stop
        stop.set()
        streamer.join(timeout=120)
        send_until_stored(serve.port, 10**6)  # the next mail starts a new storage process
        assert storage_child(serve.process.pid) != first_child
        assert "the storage process stopped" in serve.output()
        # Said in lines, not tracebacks, whichever came first: a write to the dead pipe or
        # the child's end of output.
        assert "Traceback" not in serve.output(), serve.output()
    database = isolated_home / "data" / "mailsiren" / "mailsiren.db"
    with sqlite3.connect(database) as connection:
        stored = {row[0] for row in connection.execute("SELECT message_id FROM mail")}
    assert [message_id for message_id in acknowledged if message_id not in stored] == []
    assert any(message_id.endswith(f".{10**6}@mon.example.net>") for message_id in stored)


def test_serve_names_a_port_in_use_without_a_traceback(isolated_home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = mailsiren("serve", "--smtp-port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--smtp-port" in result.stderr and "Traceback" not in result.stderr


def test_serve_refuses_a_readable_key_file_without_a_traceback(isolated_home):
    assert mailsiren("locate", "db").returncode == 0
    key_file = Path(mailsiren("locate", "key").stdout.strip())
    mailsiren("smtp", "show")  # creates the key file
    key_file.chmod(0o644)
    result = mailsiren("serve", "--smtp-port", "0")
    assert result.returncode == 1, result.stderr
    assert f"chmod 600 {key_file}" in result.stderr and "Traceback" not in result.stderr
