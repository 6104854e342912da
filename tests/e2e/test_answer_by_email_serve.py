"""Answering a page by email through real processes (SPEC §15): serve mails the notification
to a real SMTP peer; a reply `ack` from the recipient to its Reply-To, sent over SMTP to
serve by swaks, accepts the incident; a forged reply is `reply_refused`."""

from __future__ import annotations

import sqlite3
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


def test_the_second_notification_threads_on_the_first_and_a_digest_arrives_once(
    smtp_server, trust_test_ca, isolated_home
):
    """Through serve: the resolve's mail to ops@ names the opening one in In-Reply-To; an
    hourly integration gets one digest of both events when its period ends (the period's
    end is moved to now in the database: serve works from the rows, whatever the hour)."""
    server = smtp_server(auth=False)
    notifying_through(server)
    added = mailsiren(
        "integrations", "add", "--address", "team@example.com", "--level", "all",
        "--frequency", "hourly", "--yes",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    database = isolated_home / "data" / "mailsiren" / "mailsiren.db"
    with running_serve() as serve:
        swaks(serve.port, "01-nagios-problem-disk.eml")
        [opened] = server.handler.wait_for_mails(1)
        assert mailsiren("incidents", "resolve", "1").returncode == 0
        second = server.handler.wait_for_mails(2)[1]
        first_id = message_from_bytes(opened.data, policy=policy.default)["Message-ID"]
        resolved = message_from_bytes(second.data, policy=policy.default)
        assert resolved["In-Reply-To"] == first_id and resolved["References"] == first_id
        assert second.rcpt_tos == ["ops@example.com"]  # team@ waits for its digest
        with sqlite3.connect(database) as connection:
            held = connection.execute(
                "UPDATE delivery SET held_until = datetime('now', '-1 second') "
                "WHERE digest = 'hourly'"
            ).rowcount
        assert held == 2
        digest = server.handler.wait_for_mails(3)[2]
    mail = message_from_bytes(digest.data, policy=policy.default)
    assert digest.rcpt_tos == ["team@example.com"]
    assert mail["Subject"] == "[mailsiren] hourly digest: 2 events"
    body = mail.get_content()
    assert "#1 ** PROBLEM" in body and ": opened; now resolved" in body
    assert ": resolved; now resolved" in body
    assert len(server.handler.received) == 3  # one digest, not one per event
