"""Answering a page by email through real processes (SPEC §15): serve mails the notification
to a real SMTP peer; a reply `ack` from the recipient to its Reply-To, sent over SMTP to
serve by swaks, accepts the incident; a forged reply is `reply_refused`."""

from __future__ import annotations

import subprocess
from email import message_from_bytes, policy

from tests.e2e.process import mailsiren, mailsiren_json
from tests.e2e.serve import notifying_through, running_serve
from tests.e2e.test_serve_notify import swaks


def reply(port: int, to: str, sender: str, body: str, tmp_path) -> None:
    mail = tmp_path / "reply.eml"
    mail.write_text(
        f"From: {sender}\r\nTo: {to}\r\nSubject: Re: page\r\n"
        f"Message-ID: <{abs(hash((to, sender, body)))}@ops.example.com>\r\n\r\n{body}\r\n"
    )
    sent = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{port}", "--to", to, "--from", sender,
         "--data", f"@{mail}", "--silent", "2"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stdout + sent.stderr


def test_a_page_is_acked_by_replying_and_a_forged_reply_changes_nothing(
    smtp_server, trust_test_ca, tmp_path
):
    server = smtp_server(auth=False)
    notifying_through(server)
    org = tmp_path / "org.toml"
    org.write_text('[org]\nreply_address = "mailsiren@alerts.example.com"\n')
    imported = mailsiren("config", "import", str(org))
    assert imported.returncode == 0, imported.stderr
    with running_serve() as serve:
        swaks(serve.port, "01-nagios-problem-disk.eml")
        [page] = server.handler.wait_for_mails(1)
        reply_to = message_from_bytes(page.data, policy=policy.default)["Reply-To"]
        assert reply_to.startswith("mailsiren+1.")
        reply(serve.port, reply_to, "mallory@evil.example", "resolve", tmp_path)
        reply(serve.port, reply_to, "ops@example.com", "ack\n\n> the page", tmp_path)
        [refused] = mailsiren_json("mails", "list", "--outcome", "reply_refused")
        [answered] = mailsiren_json("mails", "list", "--outcome", "reply")
    assert "wrong sender" in refused["reason"]
    assert (answered["outcome"], answered["incident_id"]) == ("reply", 1)
    [incident] = mailsiren_json("incidents", "list")
    assert incident["state"] == "accepted"
    assert incident["accepted_by"].startswith("the recipient of notification")
