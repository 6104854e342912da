"""Run mailsiren as a person would: a separate process, with the test's environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.as_operator import LOGIN_VARIABLE

# `python -m app` as the test's operator (MAILSIREN_TEST_LOGIN), since identity is the kernel's
MAILSIREN = [sys.executable, str(Path(__file__).resolve().parents[1] / "as_operator.py")]


def mailsiren(*arguments: str, stdin: str = "", login: str | None = None, env: dict | None = None):
    """`python -m app ARGUMENTS`; `login` runs it as another operator;
    `env` adds variables."""
    environment = {**os.environ, **(env or {})}
    if login is not None:
        environment[LOGIN_VARIABLE] = login
    return subprocess.run(
        [*MAILSIREN, *arguments],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )


def mailsiren_json(*arguments: str, env: dict | None = None):
    """`mailsiren ARGUMENTS --json`, which must succeed: its output, parsed."""
    shown = mailsiren(*arguments, "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)
