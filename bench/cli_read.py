"""Wall time of a CLI read, `mailsiren incidents list --limit 20`, against `python -c pass`.

Run: .venv/bin/python bench/cli_read.py [--runs 7] [--incidents 300]
Seeds a throwaway SQLite database with `--incidents` incidents, each opened by a mail through
the real pipeline, then times fresh processes of the virtualenv's own `mailsiren` and of its
python running `-c pass` (the reference, measured in the same run). Prints both medians and
their ratio (issue 26's goal: at most 10).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAILSIREN = str(Path(sys.executable).parent / "mailsiren")

SEED = """
import sys
from app.core.configfile import import_config
from app.core.intake.pipeline import ingest_mail
from app.core.workspace import open_workspace
workspace = open_workspace()
import_config(
    workspace.database, workspace.user,
    '[[source]]\\nname = "nagios"\\naddress = "nagios@alerts.example.com"\\n'
    'creation = "per_email"\\n',
)
for number in range(int(sys.argv[1])):
    raw = (
        f"From: nagios@monitor.example.com\\r\\nTo: nagios@alerts.example.com\\r\\n"
        f"Subject: PROBLEM web{number:03d}/HTTP is CRITICAL\\r\\n"
        f"Message-ID: <bench-{number}@monitor.example.com>\\r\\n\\r\\nconnection refused\\r\\n"
    ).encode()
    ingest_mail(workspace.database, raw, ["nagios@alerts.example.com"], via="bench")
workspace.close()
"""


def wall_time(command: list[str], environment: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=environment, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--incidents", type=int, default=300)
    options = parser.parse_args()
    home = tempfile.mkdtemp(prefix="mailsiren-bench-cli-")
    environment = dict(os.environ, XDG_DATA_HOME=f"{home}/data", XDG_CONFIG_HOME=f"{home}/config")
    environment.pop("MAILSIREN_DB", None)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed mailsiren has its .pyc
    subprocess.run(
        [sys.executable, "-c", SEED, str(options.incidents)], env=environment, cwd=ROOT, check=True
    )
    command = [MAILSIREN, "incidents", "list", "--limit", "20"]
    reference = [sys.executable, "-c", "pass"]
    shown = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)
    if len(shown.stdout.splitlines()) < 20:
        raise SystemExit(f"expected 20 incidents listed, got:\n{shown.stdout}{shown.stderr}")
    wall_time(command, environment)  # warm the page cache and the .pyc files
    read, bare = [], []
    for _ in range(options.runs):  # interleaved: a burst of load hits both alike
        read.append(wall_time(command, environment))
        bare.append(wall_time(reference, environment))
    r, b = statistics.median(read), statistics.median(bare)
    print(
        f"incidents list --limit 20 on {options.incidents} incidents, median of "
        f"{options.runs}: mailsiren {r * 1000:.0f} ms, python -c pass {b * 1000:.0f} ms, "
        f"ratio {r / b:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
