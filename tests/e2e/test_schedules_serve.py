"""On-call schedules through a real `serve` (SPEC §18): a policy targeting `schedule:primary`
pages whoever is on call at a real SMTP peer, then the override's user after `schedules
override`; `schedules who --json` says the same."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import tomli_w

from tests.e2e.process import mailsiren, mailsiren_json
from tests.e2e.serve import notifying_through, running_serve
from tests.e2e.test_serve_notify import swaks

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def on_call_setup(tmp_path: Path) -> None:
    """ann and bob, a weekly rotation that began an hour ago with ann, and nagios paging it."""
    for name in ("ann", "bob"):
        added = mailsiren("users", "add", name, "--email", f"{name}@oncall.example")
        assert added.returncode == 0, added.stderr
    handoff = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    nagios = tomllib.loads((FIXTURES / "sources.toml").read_text())["source"][0]
    document = {
        "schedule": [{
            "name": "primary", "time_zone": "UTC",
            "rotation": {"users": ["ann", "bob"], "length": "1w", "handoff": handoff},
        }],
        "escalation_policy": [
            {"name": "oncall", "step": [{"targets": ["schedule:primary"], "delay_minutes": 0}]}
        ],
        "source": [nagios | {"escalation_policy": "oncall"}],
    }  # fmt: skip
    file = tmp_path / "oncall.toml"
    file.write_text(tomli_w.dumps(document))
    imported = mailsiren("config", "import", str(file))
    assert imported.returncode == 0, imported.stderr


def paged_on_call(received) -> list[list[str]]:
    """The recipients of each mail but the integration's (ops@example.com)."""
    return [mail.rcpt_tos for mail in received if mail.rcpt_tos != ["ops@example.com"]]


def test_a_schedule_pages_who_is_on_call_then_the_overrides_user(
    smtp_server, trust_test_ca, tmp_path
):
    server = smtp_server(auth=False)
    notifying_through(server)
    on_call_setup(tmp_path)
    assert mailsiren_json("schedules", "who", "primary")["user"] == "ann"
    with running_serve() as serve:
        swaks(serve.port, "01-nagios-problem-disk.eml")
        server.handler.wait_for_mails(3)  # the integration's two, and ann's page
        overridden = mailsiren("schedules", "override", "primary", "--user", "bob", "--for", "8h")
        assert overridden.returncode == 0, overridden.stderr
        who = mailsiren_json("schedules", "who", "primary")
        assert (who["user"], who["email"], who["override"]) == ("bob", "bob@oncall.example", True)
        swaks(serve.port, "02-nagios-problem-load.eml")
        received = server.handler.wait_for_mails(6)
    assert paged_on_call(received) == [["ann@oncall.example"], ["bob@oncall.example"]]
    shown = mailsiren("incidents", "show", "2")
    assert "paged bob via schedule primary" in shown.stdout
    assert "bob@oncall.example" not in shown.stdout


def test_the_schedules_commands_list_show_and_refuse(tmp_path):
    on_call_setup(tmp_path)
    [listed] = mailsiren_json("schedules", "list")
    assert (listed["name"], listed["on_call"]["user"]) == ("primary", "ann")
    assert listed["on_call"]["until"].endswith("Z")
    shown = mailsiren("schedules", "show", "primary", "--days", "15")
    lines = shown.stdout.splitlines()
    assert shown.returncode == 0 and lines[0].startswith("primary: every 1w (ann, bob)")
    assert [line.split()[-1] for line in lines[1:]] == ["ann", "bob", "ann"]
    _, day, clock, *_ = lines[2].split()  # bob's shift, in the schedule's zone (UTC)
    later = mailsiren_json("schedules", "who", "primary", "--at", f"{day}T{clock}:00Z")
    assert (later["user"], later["from"]) == ("bob", f"{day}T{clock}:00Z")
    unknown = mailsiren("schedules", "who", "backup")
    assert (
        unknown.returncode == 1
        and "no schedule 'backup' (the schedules: primary)" in unknown.stderr
    )
    no_end = mailsiren("schedules", "override", "primary", "--user", "bob")
    assert no_end.returncode == 1 and "An override needs an end" in no_end.stderr
    stranger = mailsiren("schedules", "override", "primary", "--user", "zed", "--for", "1h")
    assert stranger.returncode == 1 and "'zed' is not a mailsiren user" in stranger.stderr
    assert mailsiren("schedules", "show").returncode == 2
    refused = mailsiren("users", "remove", "ann")
    assert refused.returncode == 1 and "rotation of the schedule primary" in refused.stderr
