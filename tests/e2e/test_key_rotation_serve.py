"""`key rotate` and `key retire` while `serve` runs: no mail refused, no notification lost."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

from tests.e2e.process import mailsiren
from tests.e2e.serve import running_serve
from tests.e2e.test_serve_notify import swaks

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_serve_follows_a_rotation_without_a_restart(smtp_server, trust_test_ca):
    server = smtp_server(auth=False)
    configured = mailsiren(
        "smtp", "set", "--server", "localhost", "--port", str(server.port),
        "--from", "siren@example.com",
    )  # fmt: skip
    assert configured.returncode == 0, configured.stderr
    assert mailsiren("config", "import", str(FIXTURES / "sources.toml")).returncode == 0
    added = mailsiren(
        "integrations", "add", "--address", "ops@example.com", "--level", "all", "--yes"
    )
    assert added.returncode == 0, added.stderr
    with running_serve() as serve:
        swaks(serve.port, "01-nagios-problem-disk.eml")  # serve has read the old key
        server.handler.wait_for_mails(1)
        rotated = mailsiren("key", "rotate")
        assert rotated.returncode == 0, rotated.stderr
        assert "mailsiren key retire" in rotated.stdout
        swaks(serve.port, "02-nagios-problem-load.eml")  # swaks fails on anything but 250
        server.handler.wait_for_mails(2)
        retired = mailsiren("key", "retire")
        assert retired.returncode == 0, retired.stderr
        swaks(serve.port, "04-nagios-recovery-disk.eml")
        received = server.handler.wait_for_mails(3)
        assert "DecryptionError" not in serve.output() and "decrypted" not in serve.output()
    subjects = [message_from_bytes(m.data, policy=policy.default)["Subject"] for m in received]
    assert subjects[0].startswith("[ALERT] #1 ") and subjects[1].startswith("[ALERT] #2 ")
    assert subjects[2].endswith("(resolved)")


def test_key_rotate_and_retire_need_admin():
    assert mailsiren("users", "add", "bob").returncode == 0  # alice: the first user, an admin
    for attempt in (("key", "rotate"), ("key", "rotate", "--stage"), ("key", "retire")):
        refused = mailsiren(*attempt, login="bob")
        assert refused.returncode == 1, refused
        assert "lacks the 'admin' permission" in refused.stderr
