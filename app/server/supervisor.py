"""One `serve` per database on this machine: its lock file, and starting one beside the UI.

`serve` holds an exclusive lock on `serve-<digest>.lock` in the data folder for as long
as it runs (the kernel drops it when the process ends, however it ends). The UI looks at
that lock: when nobody holds it, it starts `serve` as its child and stops it on quit (after
asking: quitting stops mail reception). `run_serve = false` (or `mailsiren --no-serve`)
leaves serve to its own session or host.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from app import paths
from app.errors import MailsirenError

STOP_SECONDS = 40  # serve itself allows 30 s for the mails being stored


class ServeAlreadyRunning(MailsirenError):
    """Another serve holds the lock for this database."""

    title = "serve is already running"


def lock_path(database_url: str) -> Path:
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:12]
    return paths.data_dir() / f"serve-{digest}.lock"


def hold_serve_lock(database_url: str) -> int:
    """Take the lock for the life of this process (returns the open descriptor)."""
    path = lock_path(database_url)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(descriptor, 32).decode(errors="replace").strip() or "?"
        os.close(descriptor)
        raise ServeAlreadyRunning(
            f"another mailsiren serve (pid {holder}) is already running for this database; "
            "stop it first, or leave it running: the UI uses it"
        ) from None
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"{os.getpid()}\n".encode())
    return descriptor


def running_serve_pid(database_url: str) -> int | None:
    """The pid of the serve that holds the lock, or None when none runs."""
    path = lock_path(database_url)
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(descriptor, 32).decode(errors="replace").strip()
            return int(text) if text.isdigit() else 0
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return None
    finally:
        os.close(descriptor)


class ServeSupervisor:
    """The UI's view of `serve`: uses one that runs, or starts one as its child."""

    ASKS_BEFORE_STOPPING = True  # quitting the UI stops our child: ask first

    def __init__(self, database_url: str, log_path: Path, *, start: bool = True) -> None:
        self.database_url = database_url
        self.log_path = log_path
        self.start = start  # False: run_serve = false or --no-serve, never start one
        self.child: subprocess.Popen | None = None

    def ensure(self) -> None:
        if not self.start or running_serve_pid(self.database_url) is not None:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.log_path, "ab") as log:
            self.child = subprocess.Popen(
                [sys.executable, "-m", "app", "serve"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip

    def status(self) -> str:
        """One line for the status bar."""
        if self.child_running():
            return f"serve started by this window (pid {self.child.pid}); it stops when you quit"
        if self.child is not None:
            return f"serve stopped (exit {self.child.returncode}): {self.last_words()}"
        pid = running_serve_pid(self.database_url)
        if pid is None and not self.start:
            return "this window starts no serve (run_serve = false, or --no-serve); none runs here"
        if pid is None:
            return "no serve is running: alert mail is not being received"
        return f"serve running (pid {pid})"

    def quit_question(self) -> str:
        """What to ask before quitting stops the serve this window started ("": nothing)."""
        if not (self.ASKS_BEFORE_STOPPING and self.child_running()):
            return ""
        return (
            f"Quit and stop receiving alert mail?\n\n"
            f"This window started serve (pid {self.child.pid}); quitting stops it, and no "
            "alert mail is received here until a serve runs again (senders retry later).\n\n"
            "To keep receiving mail, run `mailsiren serve` in its own session (tmux, screen) "
            "or as a service; the UI then uses it and quits without stopping it. On an "
            "operator's host of a team, set run_serve = false in config.toml."
        )

    def child_running(self) -> bool:
        """True while the serve this window started runs."""
        return self.child is not None and self.child.poll() is None

    def last_words(self) -> str:
        """The last line our stopped child wrote to its log (its reason), and where the rest is."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - 4096))
                lines = log.read().decode(errors="replace").splitlines()
        except OSError:
            lines = []
        last = next((line.strip() for line in reversed(lines) if line.strip()), "")
        return f"{last} (log: {self.log_path})" if last else f"see {self.log_path}"

    def stop(self) -> None:
        """Stop our child gracefully: it finishes storing what it acknowledged."""
        if not self.child_running():
            return
        self.child.send_signal(signal.SIGTERM)
        try:
            self.child.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait()
