"""Cost of deciding which SMTP configuration sends, against the standard library's INI reader.

Run: .venv/bin/python bench/sharedconf.py [--rounds 2000]
The dispatcher re-reads the shared configuration for every send (so an administrator's edit
applies at once). This measures, on a throwaway folder: reading the seed's configuration
block plus two overlay files with mailsiren's gcfg reader (RE2 compilation included),
against configparser reading the same three files; and the whole decision
(choose_configuration: file + database) per call. Prints medians and the ratio.
"""

from __future__ import annotations

import argparse
import configparser
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BLOCK = """[Shared-Mail-Config]
\tServer = `smtp.example.com`
\tPort = 25
\tUsername = `userman`
\tPassword = `sneakypassword`
\tUseTLS = true
\tForce-From = `forced@example.com`
\tAllowed-Group = group2
\tAllowed-Group = group3
\tAllowed-To = `[a-f0-9]+@example\\.com`
\tAllowed-To = `[a-f0-9]+@example\\.io`
"""
OVERLAY = "[Shared-Mail-Config]\n\tPort = 587\n\tAllowed-To = `ops-[a-z]+@example\\.net`\n"


def median_us(action, rounds: int) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    rounds = parser.parse_args().rounds
    home = Path(tempfile.mkdtemp(prefix="mailsiren-bench-"))
    for variable in ("XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        os.environ[variable] = str(home / variable)
    conf = home / "mailsiren.conf"
    conf.write_text(BLOCK)
    (home / "mailsiren.conf.d").mkdir()
    files = [conf]
    for name in ("10-port.conf", "20-more.conf"):
        overlay = home / "mailsiren.conf.d" / name
        overlay.write_text(OVERLAY)
        files.append(overlay)

    from app.core.sending.choice import choose_configuration
    from app.core.sending.shared import load_shared_config, read_shared_config
    from app.core.workspace import open_workspace

    assert read_shared_config(conf).port == 587

    def stdlib() -> None:
        reader = configparser.ConfigParser(strict=False, interpolation=None)
        reader.read(files)

    ours = median_us(lambda: read_shared_config(conf), rounds)
    reference = median_us(stdlib, rounds)
    workspace = open_workspace()
    decision = median_us(
        lambda: choose_configuration(workspace.database, workspace.user, load_shared_config(conf)),
        rounds,
    )
    workspace.close()
    print(f"gcfg reader (3 files, 3 RE2 patterns): {ours:8.1f} µs median")
    print(f"configparser (same 3 files):           {reference:8.1f} µs median")
    print(f"ratio: {ours / reference:.2f}× the standard library's INI reader")
    print(f"whole decision (file + database):      {decision:8.1f} µs median per send")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
