"""The command line as a person runs it: real processes, a real database, a real SMTP server."""

from __future__ import annotations

import json
import os
import subprocess

from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import save_source
from tests.conftest import GOOD_PASSWORD, GOOD_USER
from tests.e2e.process import MAILSIREN, mailsiren
from tests.mails import alert_mail


def save_settings(port: int, password: str) -> subprocess.CompletedProcess:
    return mailsiren(
        "smtp", "set", "--server", "localhost", "--port", str(port),
        "--username", GOOD_USER, "--password-stdin", "--from", "alice@example.com",
        stdin=password + "\n",
    )  # fmt: skip


def test_help_and_version():
    shown = mailsiren("--help")
    assert shown.returncode == 0 and "examples:" in shown.stdout and "smtp" in shown.stdout
    assert mailsiren("--version").stdout.startswith("mailsiren ")
    assert mailsiren("smtp", "test", "--help").stdout.count("mailsiren smtp test") >= 2


def test_locate_follows_xdg_and_the_environment(isolated_home, monkeypatch, tmp_path):
    assert mailsiren("locate", "data").stdout.strip() == str(isolated_home / "data" / "mailsiren")
    assert mailsiren("locate", "key").stdout.strip().endswith("mailsiren/mailsiren.key")
    monkeypatch.setenv("MAILSIREN_DB", str(tmp_path / "other.db"))
    assert mailsiren("locate", "db").stdout.strip() == str(tmp_path / "other.db")
    monkeypatch.setenv("MAILSIREN_SHARED_CONFIG", "/srv/shared.conf")
    assert mailsiren("locate", "shared-config").stdout.strip() == "/srv/shared.conf"


def test_set_show_test_clear_round_trip(smtp_server, trust_test_ca):
    server = smtp_server()
    saved = save_settings(server.port, GOOD_PASSWORD)
    assert saved.returncode == 0, saved.stderr
    shown = mailsiren("smtp", "show")
    assert "localhost" in shown.stdout and "(saved, never shown)" in shown.stdout
    assert GOOD_PASSWORD not in shown.stdout + shown.stderr

    tested = mailsiren("smtp", "test", "--to", "bob@example.com")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    for stage in ("resolve", "connect", "banner", "STARTTLS", "AUTH", "RCPT TO", "DATA", "QUIT"):
        assert f"✔ {stage}" in tested.stdout
    assert GOOD_PASSWORD not in tested.stdout + tested.stderr
    assert len(server.handler.received) == 1

    probed = mailsiren("smtp", "test", "--to", "bob@example.com", "--probe")
    assert probed.returncode == 0 and "✔ DATA" not in probed.stdout
    assert len(server.handler.received) == 1

    assert mailsiren("smtp", "clear").returncode == 0
    refused = mailsiren("smtp", "test")
    assert refused.returncode == 1 and "no email configuration" in refused.stderr


def test_failed_test_exits_non_zero_and_names_the_stage(smtp_server, trust_test_ca):
    server = smtp_server()
    save_settings(server.port, "wrong password")
    tested = mailsiren("smtp", "test", "--probe")
    assert tested.returncode == 1
    assert "✘ AUTH" in tested.stdout and "535" in tested.stdout
    assert "✘ Failed at AUTH" in tested.stdout


def test_bad_settings_are_named_by_flag_and_nothing_is_saved():
    refused = mailsiren("smtp", "set", "--server", "smtp example", "--port", "0", "--from", "x")
    assert refused.returncode == 1
    for flag in ("--server", "--port", "--from"):
        assert flag in refused.stderr
    assert "Traceback" not in refused.stderr
    assert "no personal SMTP settings" in mailsiren("smtp", "show").stdout


def test_plaintext_credentials_warn():
    saved = mailsiren(
        "smtp",
        "set",
        "--server",
        "localhost",
        "--port",
        "25",
        "--tls",
        "none",
        "--username",
        "u",
        "--password-stdin",
        stdin="p\n",
    )
    assert saved.returncode == 0 and "unencrypted" in saved.stderr


def test_readable_key_file_is_refused_without_traceback(isolated_home):
    assert mailsiren("smtp", "show").returncode == 0
    key = isolated_home / "data" / "mailsiren" / "mailsiren.key"
    key.chmod(0o644)
    refused = mailsiren("smtp", "show")
    assert refused.returncode == 1
    assert f"chmod 600 {key}" in refused.stderr and "Traceback" not in refused.stderr


def test_key_rotate_keeps_secrets_readable():
    mailsiren(
        "smtp",
        "set",
        "--server",
        "localhost",
        "--port",
        "587",
        "--username",
        "u",
        "--password-stdin",
        stdin="p\n",
    )
    rotated = mailsiren("key", "rotate")
    assert rotated.returncode == 0 and "2 stored secrets re-encrypted" in rotated.stdout
    assert "(saved, never shown)" in mailsiren("smtp", "show").stdout


def test_text_from_a_mail_never_drives_the_operators_terminal(workspace):
    # Anyone who can mail an alert address wrote this subject (issue 21, item 1): clear the
    # screen, set the window title, write the clipboard (OSC 52), a C1 CSI and a bidi override.
    hostile = "\x1b[2J\x1b]0;owned\x07\x1b]52;c;ZXZpbA==\x07\x9b31mdisk\u202efull"
    save_source(workspace.database, workspace.user, {"name": "src", "address": "src@a.example"})
    raw = alert_mail(hostile, to="src@a.example", sender=f"mon{hostile}@m.example")
    ingest_mail(workspace.database, raw, ["src@a.example"], via="ingest")
    outputs = [
        mailsiren("incidents", "list").stdout,
        mailsiren("incidents", "show", "1").stdout,
        mailsiren("mails", "list").stdout,
    ]
    for output in outputs:
        assert not any(ch in output for ch in "\x1b\x07\x9b\u202e\r"), repr(output)
    assert "␛[2J␛]0;owned␇" in outputs[0] and "<U+009B>" in outputs[0]
    assert "<U+202E>" in outputs[0]
    as_json = mailsiren("incidents", "show", "1", "--json").stdout
    assert not any(ch in as_json for ch in "\x1b\x07\x9b\u202e\r")
    assert json.loads(as_json)["title"] == hostile  # the data itself, escaped as JSON does


def test_a_reader_gone_ends_a_command_quietly(tmp_path):
    """`mailsiren incidents list | head -1`: once head has its line and closes the pipe, the
    command ends with no 'Broken pipe' said and no traceback (both were printed)."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line is written
    try:
        done = subprocess.run(
            [*MAILSIREN, "incidents", "list", "--state", "all"],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (0, "")
