"""README.md's quick start, run as written in a fresh copy of the checkout and a fresh virtual
environment, in a real terminal: it installs, opens the UI with its own serve, and quits on
`q` (it asks first: quitting stops that serve); then the demo from the same README shows
alerts arriving (the throwaway demo quits on `q` at once)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.peers import free_port
from tests.e2e.terminal import Terminal, Tmux
from tests.unit.test_readme import ROOT, readme_shell_blocks


@pytest.fixture(scope="module")
def fresh_checkout(tmp_path_factory) -> Path:
    """The files git knows of (committed or not, minus what .gitignore leaves out): no .venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    target = tmp_path_factory.mktemp("fresh") / "mailsiren"
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def environment(isolated_home: Path) -> dict:
    """The test's isolated folders; pip keeps its usual cache (no second download)."""
    port = free_port()
    settings = isolated_home / "config" / "mailsiren" / "config.toml"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(f"listener_port = {port}\n")  # never a real 2525
    return {
        **os.environ,
        "PIP_CACHE_DIR": str(Path.home() / ".cache" / "pip"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


def test_the_quick_start_installs_and_opens_mailsiren(fresh_checkout, isolated_home):
    quick_start = readme_shell_blocks()[0].strip()
    assert "\n" not in quick_start  # one command
    terminal = Terminal(quick_start, cwd=fresh_checkout, env=environment(isolated_home))
    try:
        opened = terminal.wait_for("Incidents", "No incidents yet", "serve started by this window",
                                   seconds=600)  # fmt: skip
        assert opened, terminal.screen_text[-3000:]
        terminal.type("q")  # this window started serve: quitting asks first
        asked = terminal.wait_for("Quit and stop receiving alert mail?", seconds=30)
        assert asked, terminal.screen_text[-3000:]
        terminal.type("y")
        assert terminal.finish(60) == 0, terminal.screen_text[-3000:]
    finally:
        terminal.close()
    assert (fresh_checkout / ".venv" / "bin" / "mailsiren").exists()
    log = (isolated_home / "data" / "mailsiren" / "serve.log").read_text()
    assert "every accepted mail is stored" in log  # its serve was stopped gracefully


def test_the_readme_demo_shows_alerts_arriving(fresh_checkout, isolated_home):
    demo = next(line for block in readme_shell_blocks() for line in block.splitlines()
                if line.strip().endswith("mailsiren demo"))  # fmt: skip
    if not (fresh_checkout / ".venv" / "bin" / "mailsiren").exists():  # run on its own
        subprocess.run("python3 -m venv .venv && .venv/bin/pip install -q -e .", shell=True,
                       cwd=fresh_checkout, check=True, env=environment(isolated_home))  # fmt: skip
    environment(isolated_home)  # config.toml's own listener port
    # In tmux, whose pane is the screen as the operator sees it: the pty's byte stream may
    # draw a row in pieces (a cell updated after a column grew), so a title is never whole.
    command = f"cd {shlex.quote(str(fresh_checkout))} && {demo.strip()} --speed 20"
    tmux = Tmux(f"{command}; echo demo exited $?; sleep 60", columns=120, rows=36)
    try:
        tmux.wait_for("web01/Disk /var is CRITICAL", "all 22 sample alerts in", "6 resolved",
                      seconds=120)  # fmt: skip
        tmux.keys("q")
        tmux.wait_for("demo exited 0", seconds=60)
    finally:
        tmux.close()
    assert not (isolated_home / "data" / "mailsiren").exists()  # the user's folder: untouched
