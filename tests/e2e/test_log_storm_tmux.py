"""The incident log in tmux while serve takes a storm from Postfix's smtp-source: keys sent
at 30 a second move the cursor over exactly the incidents they aim at, and enter opens the
one the operator moved to."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.process import MAILSIREN, mailsiren, mailsiren_json
from tests.e2e.serve import running_serve
from tests.e2e.terminal import Tmux

pytestmark = pytest.mark.e2e

SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
ADDRESS = "nagios@alerts.example.com"
BEFORE_THE_STORM = 160  # more than the log's 100-row window
SOURCES = f"""
[[source]]
name = "nagios"
address = "{ADDRESS}"
creation = "per_email"
"""


def smtp_source(port: int, mails: int, subject: str) -> subprocess.Popen:
    return subprocess.Popen(
        [SMTP_SOURCE, "-s", "3", "-m", str(mails), "-S", subject,
         "-f", "nagios@mon.example.net", "-t", ADDRESS, f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def wait_for_incidents(count: int) -> list[int]:
    deadline = time.monotonic() + 60
    while True:
        rows = mailsiren_json("incidents", "list", "--state", "all", "--limit", "100000")
        if len(rows) >= count:
            return sorted((row["id"] for row in rows), reverse=True)
        assert time.monotonic() < deadline, f"{len(rows)} incidents of {count}"
        time.sleep(0.2)


def test_in_a_storm_enter_opens_the_incident_the_keys_moved_to(tmp_path: Path):
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: apt-get install -y tmux (README's test command does)")
    config = tmp_path / "sources.toml"
    config.write_text(SOURCES)
    imported = mailsiren("config", "import", str(config))
    assert imported.returncode == 0, imported.stderr
    with running_serve() as serve:
        first = smtp_source(serve.port, BEFORE_THE_STORM, "PROBLEM web disk")
        assert first.wait(timeout=120) == 0, first.stderr.read()
        before = wait_for_incidents(BEFORE_THE_STORM)

        environment = " ".join(
            f"{name}={shlex.quote(value)}"
            for name, value in os.environ.items()
            if name.startswith(("XDG_", "MAILSIREN_", "PATH", "HOME"))
        )
        command = f"env {environment} TERM=xterm-256color {shlex.join(MAILSIREN)}"
        tmux = Tmux(command, columns=120, rows=36)
        try:
            tmux.wait_for(f"of {BEFORE_THE_STORM}", seconds=60)
            # g lands on the newest incident when its window is read: the storm starts once
            # it has (a storm already arriving would make the top a newer incident than
            # the one the test counts from). Enter shows where the keys landed.
            tmux.keys("g", *"j" * 5, "Enter")
            tmux.wait_for(f"Incident #{before[5]}", seconds=30)
            tmux.keys("Escape")
            tmux.wait_for(f"of {BEFORE_THE_STORM}", seconds=30)
            storm = smtp_source(serve.port, 900, "PROBLEM db storm")
            for _ in range(130):  # 30 presses a second, past the window, while mail arrives
                tmux.keys("j")
                time.sleep(1 / 30)
            assert storm.wait(timeout=180) == 0, storm.stderr.read()
            tmux.keys("Enter")
            expected = before[5 + 130]
            screen = tmux.wait_for("Incident #", seconds=30)
            opened = re.search(r"Incident #(\d+)", screen)
            assert opened and int(opened.group(1)) == expected, f"not #{expected}:\n{screen}"
            tmux.keys("Escape", "q")
        finally:
            tmux.close()
        after = mailsiren_json("incidents", "list", "--state", "all", "--limit", "100000")
        assert len(after) == BEFORE_THE_STORM + 900  # every mail of the storm is an incident
