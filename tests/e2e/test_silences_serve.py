"""Silences and heartbeats through `serve` with a real SMTP peer (SPEC §10, §11): a silenced
incident sends nothing and pages on `silences end`; a quiet source's heartbeat is mailed."""

from __future__ import annotations

import sqlite3
from email import message_from_bytes, policy

from tests.e2e.process import mailsiren, mailsiren_json
from tests.e2e.serve import notifying_through, running_serve
from tests.e2e.test_serve_notify import swaks


def subjects(received) -> list[str]:
    return [message_from_bytes(m.data, policy=policy.default)["Subject"] for m in received]


def test_a_silenced_incident_sends_nothing_and_pages_when_the_silence_ends(
    smtp_server, trust_test_ca
):
    server = smtp_server(auth=False)
    notifying_through(server)
    added = mailsiren(
        "silences", "add", "--source", "nagios", "--for", "2h", "--reason", "disk swap"
    )
    assert added.returncode == 0 and "Silence #1: source nagios" in added.stdout, added
    with running_serve() as serve:
        swaks(serve.port, "01-nagios-problem-disk.eml")  # silenced: #1 opens, nobody paged
        [mail] = mailsiren_json("mails", "list")
        assert (mail["outcome"], mail["silenced_by"]) == ("created", 1)
        [incident] = mailsiren_json("incidents", "list")
        assert incident["silenced_by"] == 1
        listed = mailsiren("silences", "list")
        assert "#1" in listed.stdout and "holds 1" in listed.stdout, listed.stdout
        assert mailsiren_json("deliveries", "list") == []
        ended = mailsiren("silences", "end", "1")
        assert ended.returncode == 0, ended.stderr
        [page] = server.handler.wait_for_mails(1)
        assert subjects([page])[0].startswith("[ALERT] #1 ")
        swaks(serve.port, "02-nagios-problem-load.eml")  # after the end: paged as usual
        assert subjects(server.handler.wait_for_mails(2))[1].startswith("[ALERT] #2 ")
    assert mailsiren_json("silences", "list", "--all")[0]["ended_by"] == "alice"


def test_a_quiet_source_heartbeat_is_mailed_by_serve(smtp_server, trust_test_ca, isolated_home):
    server = smtp_server(auth=False)
    notifying_through(server)
    database = isolated_home / "data" / "mailsiren" / "mailsiren.db"
    with sqlite3.connect(database) as connection:  # saved two hours ago, heard from never
        connection.execute(
            "UPDATE alert_source SET heartbeat_minutes = 60, updated_at = datetime('now', "
            "'-2 hours') WHERE name = 'nagios'"
        )
    with running_serve():
        [page] = server.handler.wait_for_mails(1)
    assert subjects([page])[0] == "[ALERT] #1 No mail from nagios for 60 minutes"
    [incident] = mailsiren_json("incidents", "list")
    assert (incident["key"], incident["state"]) == ("heartbeat", "pending")
