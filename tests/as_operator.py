"""Run mailsiren's command line as the operator named in MAILSIREN_TEST_LOGIN (tests only).

mailsiren takes identity from the kernel (the effective uid's account), so one test process
cannot otherwise be alice and then bob. This launcher stands in for that one fact and
nothing else; `tests/e2e/test_identity.py` runs the real `python -m app` to hold the rule.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import app.core.workspace  # noqa: E402

LOGIN_VARIABLE = "MAILSIREN_TEST_LOGIN"


def operator_login() -> str:
    """The operator a test runs as; alice (the first user, an administrator) unless set."""
    return os.environ.get(LOGIN_VARIABLE, "alice")


if __name__ == "__main__":
    app.core.workspace.current_login = operator_login
    from app.cli import main

    raise SystemExit(main())
