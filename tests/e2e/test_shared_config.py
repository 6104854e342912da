"""The shared configuration on real SMTP conversations, driven through the command line."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.conftest import GOOD_PASSWORD, GOOD_USER, free_port, silent_listener
from tests.e2e.process import mailsiren

SHARED_PASSWORD_MARK = "shared-only-password"


def write_shared(directory: Path, port: int, *, extra: str = "", password: str = GOOD_PASSWORD):
    path = directory / "site" / "mailsiren.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "[Global]\nLog-Level = INFO\n\n"
        "[Shared-Mail-Config]\n"
        "\tServer = `localhost`\n"
        f"\tPort = {port}\n"
        f"\tUsername = `{GOOD_USER}`\n"
        f"\tPassword = `{password}`\n"
        "\tUseTLS = true\n"
        "\tForce-From = `forced@example.com`\n"
        "\tAllowed-To = `[a-f0-9]+@example\\.com`\n"
        "\tAllowed-To = `[a-f0-9]+@example\\.io`\n" + extra
    )
    return path


@pytest.fixture
def shared_config(tmp_path, monkeypatch):
    def make(port: int, **keywords) -> Path:
        path = write_shared(tmp_path, port, **keywords)
        monkeypatch.setenv("MAILSIREN_SHARED_CONFIG", str(path))
        return path

    return make


def test_force_from_is_the_sender_a_real_server_sees(smtp_server, trust_test_ca, shared_config):
    server = smtp_server()
    shared_config(server.port)
    assert mailsiren("users", "set", "alice", "--email", "alice@example.com").returncode == 0
    tested = mailsiren("smtp", "test", "--to", "ab12@example.com")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "shared configuration" in tested.stdout and "✔ STARTTLS" in tested.stdout
    [received] = server.handler.received
    assert received.mail_from == "forced@example.com"
    assert received.rcpt_tos == ["ab12@example.com"]
    message = message_from_bytes(received.data, policy=policy.default)
    assert message["From"] == "forced@example.com"
    assert b"alice@example.com" not in received.data
    assert GOOD_PASSWORD not in tested.stdout + tested.stderr


def test_no_fallback_when_personal_settings_fail(smtp_server, trust_test_ca, shared_config):
    shared_server = smtp_server()
    shared_config(shared_server.port)
    broken_port = free_port()  # nothing listens there
    saved = mailsiren(
        "smtp", "set", "--server", "127.0.0.1", "--port", str(broken_port), "--tls", "none",
        "--from", "alice@example.com",
    )  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    tested = mailsiren("smtp", "test", "--to", "ab12@example.com")
    assert tested.returncode == 1
    assert "personal configuration" in tested.stdout and "✘ connect" in tested.stdout
    assert shared_server.handler.greetings == [] and shared_server.handler.received == []

    assert mailsiren("smtp", "clear").returncode == 0  # on purpose: now the shared one sends
    tested = mailsiren("smtp", "test", "--to", "ab12@example.com", "--probe")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert len(shared_server.handler.greetings) == 2  # EHLO, and EHLO again after STARTTLS


@pytest.mark.parametrize("address", ["x1@example.com.attacker.io", "evil+1@example.com"])
def test_a_recipient_outside_allowed_to_is_refused_before_connecting(shared_config, address):
    with silent_listener() as (_host, port, connection_attempts):
        shared_config(port)
        refused = mailsiren("smtp", "test", "--to", address, "--probe")
        assert refused.returncode == 1
        assert f"{address} is not an allowed recipient" in refused.stderr
        assert connection_attempts() == 0
        # The same command with an admitted address does connect: the check above can fail.
        admitted = mailsiren(
            "smtp", "test", "--to", "ab12@example.com", "--probe", "--timeout", "1"
        )
        assert admitted.returncode == 1 and "✘ banner" in admitted.stdout
        assert connection_attempts() == 1


def test_allowed_group_admits_only_its_members(smtp_server, trust_test_ca, shared_config):
    server = smtp_server()
    shared_config(server.port, extra="\tAllowed-Group = ops\n")
    refused = mailsiren("smtp", "test", "--to", "ab12@example.com", "--probe")
    assert refused.returncode == 1
    assert "limited to the groups ops" in refused.stderr
    assert "set your own SMTP settings" in refused.stderr and "administrator" in refused.stderr
    assert server.handler.greetings == []

    assert mailsiren("groups", "add", "ops").returncode == 0
    assert mailsiren("groups", "add-member", "ops", "alice").returncode == 0
    explained = mailsiren("smtp", "explain", "--to", "ab12@example.com")
    assert explained.returncode == 0, explained.stdout + explained.stderr
    assert "Admitted by: your group ops" in explained.stdout
    tested = mailsiren("smtp", "test", "--to", "ab12@example.com", "--probe")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_explain_names_each_value_with_file_and_line_and_hides_the_password(shared_config):
    path = shared_config(2525, password=SHARED_PASSWORD_MARK)
    explained = mailsiren("smtp", "explain", "--to", "AB12@example.io")
    assert explained.returncode == 0, explained.stderr
    out = explained.stdout
    assert "sent with: the shared configuration" in out and "every user may use it" in out
    for key, line in [("Server", 5), ("Port", 6), ("Username", 7), ("Password", 8)]:
        assert any(row.split()[0] == key and row.endswith(f"{path}:{line}") for row in
                   out.splitlines() if row.strip()), key  # fmt: skip
    assert "(redacted)" in out and SHARED_PASSWORD_MARK not in out
    assert "every mail is sent as forced@example.com" in out
    assert f"allowed by Allowed-To `[a-f0-9]+@example\\.io` ({path}:12)" in out

    refused = mailsiren("smtp", "explain", "--to", "x1@example.com.attacker.io")
    assert refused.returncode == 1 and "REFUSED" in refused.stdout


def test_explain_reports_every_error_in_the_file(shared_config):
    path = shared_config(2525, extra="\tAllowed-To = `(unclosed`\n\tColour = blue\n")
    explained = mailsiren("smtp", "explain")
    assert explained.returncode == 1
    assert f"{path}:13: Allowed-To: `(unclosed` is not a valid RE2 expression" in explained.stdout
    assert f"{path}:14: unknown key 'Colour'" in explained.stdout
    assert "Traceback" not in explained.stderr


def test_the_shared_configuration_never_reaches_the_database(shared_config, isolated_home):
    shared_config(2525, password=SHARED_PASSWORD_MARK)
    assert mailsiren("smtp", "explain").returncode == 0
    assert mailsiren("smtp", "test", "--to", "nobody@elsewhere.test").returncode == 1
    stored = b"".join(
        path.read_bytes() for path in (isolated_home / "data" / "mailsiren").glob("mailsiren.db*")
    )
    assert stored and SHARED_PASSWORD_MARK.encode() not in stored
    assert b"forced@example.com" not in stored and b"[a-f0-9]" not in stored


def test_users_and_groups_are_an_administrators_business():
    assert mailsiren("users", "show").stdout.startswith("alice")  # the first user: admin
    added = mailsiren("users", "add", "bob", "--email", "bob@example.com")
    assert added.returncode == 0, added.stderr
    for attempt in (
        ("users", "grant", "bob", "admin"),
        ("users", "list"),
        ("groups", "add", "bobs"),
        ("users", "set", "bob", "--groups", "ops"),
    ):
        refused = mailsiren(*attempt, login="bob")
        assert refused.returncode == 1 and "lacks the 'admin' permission" in refused.stderr
    own = mailsiren("users", "set", "bob", "--email", "robert@example.com", login="bob")
    assert own.returncode == 0, own.stderr
    listed = mailsiren("users", "list", "--json")
    assert '"robert@example.com"' in listed.stdout and '"view_connections"' in listed.stdout
    granted = mailsiren("users", "grant", "bob", "triage")
    assert granted.returncode == 0 and "triage" in granted.stdout
    demoted = mailsiren("users", "revoke", "alice", "admin")
    assert demoted.returncode == 1 and "only administrator" in demoted.stderr
