"""`mailsiren mails show` (SPEC §16): one stored mail whole; `--raw` gives back the bytes
exactly as they arrived (8-bit, CRLF, an escape sequence), and on a terminal shows its
control characters instead of acting on them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.e2e.process import MAILSIREN, mailsiren

SOURCES = Path(__file__).resolve().parents[1] / "fixtures" / "sources.toml"
RAW = (
    b"From: nagios@mon.example.net\r\nTo: nagios@alerts.example.com\r\n"
    b"Subject: =?utf-8?q?PROBLEM_caf=C3=A9?= \x1b[31mred\x1b[0m\r\n"
    b"Message-ID: <show-1@mon.example.net>\r\nContent-Type: text/plain; charset=latin-1\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xe9 is DOWN\r\n\xff\xfe trailing bytes\r\n"
)


def test_mails_show_gives_back_the_exact_bytes_and_says_what_the_mail_did(tmp_path):
    assert mailsiren("config", "import", str(SOURCES)).returncode == 0
    stored = subprocess.run(
        [*MAILSIREN, "ingest", "--to", "nagios@alerts.example.com"], input=RAW,
        capture_output=True, timeout=60, env=os.environ,
    )  # fmt: skip
    assert stored.returncode == 0, stored.stderr
    raw = subprocess.run(
        [*MAILSIREN, "mails", "show", "1", "--raw"], capture_output=True, timeout=60,
        env=os.environ,
    )  # fmt: skip
    assert raw.returncode == 0 and raw.stdout == RAW
    shown = mailsiren("mails", "show", "1")
    assert shown.returncode == 0, shown.stderr
    assert "message-id  <show-1@mon.example.net>" in shown.stdout
    assert "nagios: " in shown.stdout and "café is DOWN" in shown.stdout
    assert "\x1b" not in shown.stdout  # the escape is shown as ␛, never sent to a terminal
    data = json.loads(mailsiren("mails", "show", "1", "--json").stdout)
    assert data["size"] == len(RAW) and data["outcomes"][0]["source"] == "nagios"
    missing = mailsiren("mails", "show", "99")
    assert missing.returncode == 1 and "no mail 99" in missing.stderr


def test_on_a_terminal_raw_shows_the_escape_instead_of_sending_it():
    import pty

    assert mailsiren("config", "import", str(SOURCES)).returncode == 0
    subprocess.run(
        [*MAILSIREN, "ingest", "--to", "nagios@alerts.example.com"], input=RAW,
        capture_output=True, timeout=60, env=os.environ, check=True,
    )  # fmt: skip
    leader, follower = pty.openpty()
    try:
        subprocess.run(
            [*MAILSIREN, "mails", "show", "1", "--raw"], stdout=follower, stderr=follower,
            timeout=60, env=os.environ, check=True,
        )  # fmt: skip
        os.close(follower)
        written = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end is closed: all is read
                break
            if not chunk:
                break
            written += chunk
    finally:
        os.close(leader)
    assert b"\x1b" not in written and "␛[31mred".encode() in written
