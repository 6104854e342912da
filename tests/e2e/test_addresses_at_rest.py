"""Configured addresses are encrypted at rest: none is in the database file, its WAL, or
serve's log, even after pages, escalations and a server that says each address back."""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.process import mailsiren, mailsiren_json
from tests.e2e.serve import running_serve
from tests.e2e.test_serve_notify import swaks

ADDRESSES = {
    "user": "bob.private@example.com",
    "policy": "oncall.private@example.com",
    "integration": "ops.private@example.com",
    "sender": "siren.private@example.com",
}
CONFIG = f"""
[[escalation_policy]]
name = "ops"
repeat = 0
[[escalation_policy.step]]
targets = ["{ADDRESSES["policy"]}", "bob"]
delay_minutes = 0

[[source]]
name = "nagios"
address = "nagios@alerts.example.com"
severity = "alert"
escalation_policy = "ops"

[[integration]]
address = "{ADDRESSES["integration"]}"
level = "all"
"""


def failed_deliveries(count: int, seconds: float = 60.0) -> list[dict]:
    """Poll the delivery log until `count` deliveries have failed for good."""
    deadline = time.monotonic() + seconds
    while True:
        rows = mailsiren_json("deliveries", "list")
        if sum(row["status"] == "failed" for row in rows) >= count:
            return rows
        assert time.monotonic() < deadline, rows


def test_no_configured_address_is_stored_or_logged_in_the_clear(
    smtp_server, trust_test_ca, isolated_home, tmp_path
):
    server = smtp_server(auth=False, refuse_recipients_with="550 5.1.1 <{address}>: unknown user")
    configured = mailsiren(
        "smtp", "set", "--server", "localhost", "--port", str(server.port),
        "--from", ADDRESSES["sender"],
    )  # fmt: skip
    assert configured.returncode == 0, configured.stderr
    assert mailsiren("users", "add", "bob", "--email", ADDRESSES["user"]).returncode == 0
    config = tmp_path / "team.toml"
    config.write_text(CONFIG)
    imported = mailsiren("config", "import", str(config))
    assert imported.returncode == 0, imported.stderr
    with running_serve() as serve:
        swaks(serve.port, "01-nagios-problem-disk.eml")
        rows = failed_deliveries(3)  # the integration's, and the step's two pages
        while_serving = files_under(isolated_home)  # the WAL is there while serve runs
        output = serve.output()
    assert {row["address"] for row in rows} == {
        ADDRESSES["integration"], ADDRESSES["policy"], ADDRESSES["user"],
    }  # fmt: skip  # decrypted for whoever may read the delivery log
    assert all(row["last_reply"] == "550 5.1.1 <recipient>: unknown user" for row in rows), rows
    shown = mailsiren("incidents", "show", "1")
    assert "paged bob and 1 address of the policy" in shown.stdout, shown.stdout
    assert any(name.endswith("-wal") for name in while_serving), list(while_serving)
    for what, address in ADDRESSES.items():
        assert address not in output, (what, output)
        for contents in (while_serving, files_under(isolated_home)):
            for name, data in contents.items():
                assert address.encode() not in data.lower(), (what, name)


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in Path(folder).rglob("*") if path.is_file()}
