"""A command run in a real pseudo-terminal, as a person's shell runs it: read what it draws,
type keys into it; or in tmux, whose pane is the screen as the person sees it."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

# CSI and OSC sequences, and two-character escapes: what is left is the text on screen.
_ESCAPES = re.compile(r"\x1b\[[0-9;?<=>]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.")


class Terminal:
    """`bash -c COMMAND` on a pty of `columns`×`rows`; `screen_text` is everything drawn so
    far with the escape sequences taken out."""

    def __init__(self, command: str, *, cwd: Path, env: dict, columns=120, rows=36) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.process = subprocess.Popen(
            ["bash", "-c", command], cwd=cwd, env={**env, "TERM": "xterm-256color"},
            stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        self.drawn = bytearray()

    @property
    def screen_text(self) -> str:
        return _ESCAPES.sub("", self.drawn.decode(errors="replace"))

    def read(self, seconds: float) -> None:
        """Take what the program drew within `seconds` (less if it ends)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the program ended and closed the terminal
                    return
                if not chunk:
                    return
                self.drawn += chunk
            elif self.process.poll() is not None:
                return

    def wait_for(self, *texts: str, seconds: float) -> bool:
        """Read until every text has been drawn (True) or `seconds` pass (False)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if all(text in self.screen_text for text in texts):
                return True
            if self.process.poll() is not None:
                self.read(0.5)
                return all(text in self.screen_text for text in texts)
            self.read(0.5)
        return False

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def finish(self, seconds: float) -> int | None:
        """Wait for the program to end, reading what it draws; its exit code, or None."""
        deadline = time.monotonic() + seconds
        while self.process.poll() is None and time.monotonic() < deadline:
            self.read(0.5)
        return self.process.poll()

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 9)
            self.process.wait()
        os.close(self.master)


class Tmux:
    """A tmux server of the test's own (its own socket), one session running `command`."""

    def __init__(self, command: str, *, columns: int, rows: int) -> None:
        self.socket = f"mailsiren-test-{os.getpid()}-{time.monotonic_ns()}"
        # A COLUMNS or LINES inherited from the test process (80×24 was seen) would make the
        # app draw at that size in a pane of another: the pane's own size must win.
        command = f"unset COLUMNS LINES; {command}"
        self.run("new-session", "-d", "-s", "log", "-x", str(columns), "-y", str(rows), command)

    def run(self, *arguments: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *arguments], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "log")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "log", *keys)

    def wait_for(self, *texts: str, seconds: float) -> str:
        """Read the pane until every text is on it at once (a readiness poll, not a wait for
        time): what the person sees, not the bytes that drew it."""
        deadline = time.monotonic() + seconds
        while True:
            screen = self.screen()
            if all(text in screen for text in texts):
                return screen
            assert time.monotonic() < deadline, f"{texts!r} never all shown:\n{screen}"
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
