"""Time from process start to mailsiren's first frame, against a bare Textual app in the same run.

Run: .venv/bin/python bench/startup.py [--runs 7]
Each run is a fresh interpreter (imports included) on a throwaway data folder. Prints the
median time to first frame for both apps and their ratio.
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
from app.core.workspace import open_workspace
from app.ui.app import MailsirenApp
class Timed(MailsirenApp):
    def on_mount(self):
        super().on_mount()
        self.call_after_refresh(lambda: self.exit(time.perf_counter() - started))
async def main():
    app = Timed(open_workspace())
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
    print(app.return_value)
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


def time_first_frame(code: str, environment: dict[str, str]) -> float:
    output = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    ).stdout
    return float(output.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    home = tempfile.mkdtemp(prefix="mailsiren-bench-")
    environment = dict(os.environ, XDG_DATA_HOME=f"{home}/data", XDG_CONFIG_HOME=f"{home}/config")
    environment.pop("MAILSIREN_DB", None)
    time_first_frame(MAILSIREN, environment)  # first start creates the key and database
    mailsiren = [time_first_frame(MAILSIREN, environment) for _ in range(runs)]
    bare = [time_first_frame(BARE_TEXTUAL, environment) for _ in range(runs)]
    m, b = statistics.median(mailsiren), statistics.median(bare)
    print(
        f"first frame, median of {runs}: mailsiren {m * 1000:.0f} ms, "
        f"bare Textual app {b * 1000:.0f} ms, ratio {m / b:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
