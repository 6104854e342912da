"""Does scraping `/metrics` hold up mail intake? `serve --metrics-port` driven by smtp-source
with and without a scraper hammering /metrics back to back, in the same run.

Run: .venv/bin/python bench/metrics.py [--mails 3000] [--sessions 10] [--preload 100000]
`--preload` mails are stored first (straight through the pipeline, as serve would) so that a
scrape reads a database of some size. Prints the intake rate without scraping (before and
after), with scraping, their ratio, and the scrapes' count and latency (p50, max).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from listener import (  # noqa: E402
    ADDRESS,
    SMTP_SOURCE,
    bench_workspace,
    drive,
    free_port,
    wait_for_port,
)


def preload(environment: dict[str, str], count: int) -> None:
    """`count` mails stored through the pipeline, in batches of 500 (group commits)."""
    code = (
        "import sys\n"
        "from app import paths\n"
        "from app.core.workspace import open_workspace\n"
        "from app.core.intake.mail import parse_mail\n"
        "from app.core.intake.pipeline import IncomingMail, ingest_batch\n"
        "database = open_workspace().database\n"
        f"count = {count}\n"
        "for start in range(0, count, 500):\n"
        "    batch = []\n"
        "    for number in range(start, min(count, start + 500)):\n"
        "        raw = f'Subject: disk {number % 50} full\\r\\nFrom: m@mon.example\\r\\n\\r\\nx\\r\\n'.encode()\n"
        f"        batch.append(IncomingMail(raw, ({ADDRESS!r},), 'smtp', None, parse_mail(raw)))\n"
        "    ingest_batch(database, batch)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=environment)


def scrape_until(url: str, stop: threading.Event, timings: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
        timings.append((time.perf_counter() - started) * 1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=3000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--preload", type=int, default=100_000)
    options = parser.parse_args()
    if not Path(SMTP_SOURCE).exists():
        sys.exit(f"{SMTP_SOURCE} is missing: apt-get install -y postfix")
    environment, mailsiren = bench_workspace()
    preload(environment, options.preload)
    port, metrics_port = free_port(), free_port()
    serve = subprocess.Popen(
        [*mailsiren, "serve", "--smtp-port", str(port), "--metrics-port", str(metrics_port)],
        env=environment, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    timings: list[float] = []
    try:
        wait_for_port(port)
        load = (options.mails, options.sessions, options.size)
        before = drive(port, *load)
        stop = threading.Event()
        scraper = threading.Thread(target=scrape_until, args=(url, stop, timings))
        scraper.start()
        try:
            scraped = drive(port, *load)
        finally:
            stop.set()
            scraper.join()
        after = drive(port, *load)
    finally:
        serve.terminate()
        serve.wait()
    plain = (before + after) / 2
    timings.sort()
    print(f"load: smtp-source, {options.sessions} sessions, {options.mails} mails of "
          f"{options.size} B, over {options.preload:,} stored mails")  # fmt: skip
    print(f"intake without scraping: {before:7.0f} mails/s before, {after:7.0f} after")
    print(f"intake while scraping:   {scraped:7.0f} mails/s")
    print(f"ratio: {scraped / plain:.0%} of the rate without scraping")
    print(
        f"scrapes: {len(timings)} back to back, p50 {statistics.median(timings):.0f} ms, "
        f"max {timings[-1]:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
