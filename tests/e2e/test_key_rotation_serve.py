"""`key rotate` and `key retire` while `serve` runs: no mail refused, no notification lost."""

from __future__ import annotations

from email import message_from_bytes, policy

from tests.e2e.process import mailsiren
from tests.e2e.serve import notifying_through, running_serve
from tests.e2e.test_serve_notify import swaks


def test_serve_follows_a_rotation_without_a_restart(smtp_server, trust_test_ca):
    server = smtp_server(auth=False)
    notifying_through(server)
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
