"""An alert, a person's reply and a note through a real `serve` and the CLI (SPEC §13-14):
the reply joins the alert's incident, and `incidents show --json` has all three in order."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.process import mailsiren, mailsiren_json
from tests.e2e.serve import running_serve
from tests.e2e.test_serve_notify import swaks

ALERT_ID = "<179525331516.14786.584929524677629859@mon.example.net>"  # 01-nagios-problem-disk
REPLY = f"""From: Bob Smith <bob@ops.example.com>
To: nagios@alerts.example.com
Subject: RE: ** PROBLEM Service Alert: web01/Disk /var is CRITICAL **
Message-ID: <reply-1@ops.example.com>
In-Reply-To: {ALERT_ID}
References: {ALERT_ID}
Date: Sat, 21 Nov 2026 03:12:00 +0000
Content-Type: text/plain; charset=utf-8

Looking at it: /var/log is 40 GB.

On Sat, Nov 21, 2026 at 03:00, Nagios wrote:
> ** PROBLEM Service Alert: web01/Disk /var is CRITICAL **
"""


def test_an_alert_a_reply_and_a_note_are_one_incident_in_order(tmp_path):
    reply = tmp_path / "reply.eml"
    reply.write_text(REPLY.replace("\n", "\r\n"))
    sources = Path(__file__).resolve().parents[1] / "fixtures" / "sources.toml"
    assert mailsiren("config", "import", str(sources)).returncode == 0
    with running_serve() as serve:
        swaks(serve.port, "01-nagios-problem-disk.eml")
        swaks(serve.port, str(reply))
        written = mailsiren("incidents", "note", "1", "rotated /var/log; disk at 60%")
        assert written.returncode == 0, written.stderr
        assigned = mailsiren("incidents", "assign", "1", "alice")
        assert assigned.returncode == 0 and "#1 is assigned to alice" in assigned.stdout
        unknown = mailsiren("incidents", "assign", "1", "carol")
        assert unknown.returncode == 1 and "no user 'carol'" in unknown.stderr, unknown
    [incident] = mailsiren_json("incidents", "list")  # one incident, not two
    assert (incident["mail_count"], incident["reply_count"], incident["assignee"]) == (
        1,
        1,
        "alice",
    )
    shown = mailsiren_json("incidents", "show", "1")
    kinds = [entry["kind"] for entry in shown["timeline"]]
    assert [kind for kind in kinds if kind in ("created", "reply", "note", "assigned")] == [
        "created", "reply", "note", "assigned",
    ]  # fmt: skip
    [reply_view] = shown["replies"]
    assert reply_view["from"] == "Bob Smith <bob@ops.example.com>"
    assert reply_view["first_lines"] == ["Looking at it: /var/log is 40 GB."]
    threaded = mailsiren_json("mails", "list", "--outcome", "threaded")
    assert [(m["outcome"], m["incident_id"]) for m in threaded] == [("threaded", 1)]
    text = mailsiren("incidents", "show", "1").stdout
    assert "assignee  alice" in text and "from Bob Smith" in text
