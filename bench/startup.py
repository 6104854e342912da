"""Time from process start to mailsiren's first frame, against a bare Textual app in the same run.

Run: .venv/bin/python bench/startup.py [--runs 7]
Each run is a fresh interpreter (imports included) on a throwaway data folder, started as
`mailsiren` starts the UI (settings only; the workspace opens in a worker after the first
frame). Prints the median time to first frame for both apps and their ratio, and the median
time until the incident log is drawn with the workspace open (what an operator waits for).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

MAILSIREN = """
import time, asyncio
started = time.perf_counter()
from app import paths
from app.ui.app import MailsirenApp
class Timed(MailsirenApp):
    def on_mount(self):  # Textual calls MailsirenApp.on_mount after this one
        self.call_after_refresh(lambda: setattr(self, "first_frame", time.perf_counter() - started))
    def _workspace_opened(self, workspace, mode):
        super()._workspace_opened(workspace, mode)
        self.call_after_refresh(lambda: self.exit((self.first_frame, time.perf_counter() - started)))
async def main():
    app = Timed(settings=paths.load_settings())
    async with app.run_test(size=(120, 36)) as pilot:
        while app.return_value is None and app.is_running:
            await pilot.pause()
    if app.workspace is not None:
        app.workspace.close()
    print(*app.return_value)
asyncio.run(main())
"""

BARE_TEXTUAL = """
import time, asyncio
started = time.perf_counter()
from textual.app import App
from textual.widgets import Footer, Header, Static
class Bare(App):
    def compose(self):
        yield Header(); yield Static("hello"); yield Footer()
    def on_mount(self):
        self.call_after_refresh(lambda: self.exit(time.perf_counter() - started))
async def main():
    app = Bare()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
    print(app.return_value)
asyncio.run(main())
"""


def time_first_frame(code: str, environment: dict[str, str]) -> list[float]:
    """The times the child printed on its last line: first frame (and, for mailsiren, the log)."""
    output = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    ).stdout
    return [float(word) for word in output.strip().splitlines()[-1].split()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    home = tempfile.mkdtemp(prefix="mailsiren-bench-")
    environment = dict(os.environ, XDG_DATA_HOME=f"{home}/data", XDG_CONFIG_HOME=f"{home}/config")
    environment.pop("MAILSIREN_DB", None)
    # An installed mailsiren has its .pyc files: compiling every module at each start is
    # not what an operator waits for.
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    time_first_frame(MAILSIREN, environment)  # first start creates the key and database
    time_first_frame(BARE_TEXTUAL, environment)
    mailsiren, log, bare = [], [], []
    for _ in range(runs):  # interleaved: a burst of load hits both alike
        first_frame, log_drawn = time_first_frame(MAILSIREN, environment)
        mailsiren.append(first_frame)
        log.append(log_drawn)
        bare.extend(time_first_frame(BARE_TEXTUAL, environment))
    m, b = statistics.median(mailsiren), statistics.median(bare)
    print(
        f"first frame, median of {runs}: mailsiren {m * 1000:.0f} ms, "
        f"bare Textual app {b * 1000:.0f} ms, ratio {m / b:.2f}; "
        f"the incident log drawn with the database open {statistics.median(log) * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
