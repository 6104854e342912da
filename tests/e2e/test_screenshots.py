"""The screenshot script runs (real servers, the fixed scenario) and makes exactly the SVGs
that screenshots/ holds and README.md shows; their pixels are not compared."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_script_makes_every_screenshot_the_readme_shows(tmp_path):
    made = subprocess.run(
        [sys.executable, str(ROOT / "screenshots" / "generate.py"), "--output", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    generated = {path.name for path in tmp_path.glob("*.svg")}
    kept = {path.name for path in (ROOT / "screenshots").glob("*.svg")}
    shown = set(re.findall(r"\(screenshots/([\w.-]+\.svg)\)", (ROOT / "README.md").read_text()))
    assert generated == kept == shown
    for name in generated:
        text = (tmp_path / name).read_text()
        assert text.startswith("<svg") and "mailsiren" in text, name
