"""Who is at the keyboard comes from the kernel, not from LOGNAME or USER (the real `python -m app`)."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys

from tests.e2e.process import mailsiren

KERNEL_ACCOUNT = pwd.getpwuid(os.geteuid()).pw_name


def real_mailsiren(*arguments: str, claimed: str) -> subprocess.CompletedProcess:
    """`python -m app` itself, with LOGNAME and USER set to someone the process is not."""
    environment = {**os.environ, "LOGNAME": claimed, "USER": claimed, "LNAME": claimed}
    environment.pop("MAILSIREN_TEST_LOGIN", None)
    return subprocess.run(
        [sys.executable, "-m", "app", *arguments],
        capture_output=True, text=True, timeout=60, env=environment,
    )  # fmt: skip


def test_the_first_user_is_the_kernel_account_whatever_logname_says(isolated_home):
    listed = real_mailsiren("users", "list", "--json", claimed="bob")
    assert listed.returncode == 0, listed.stderr
    assert [user["name"] for user in json.loads(listed.stdout)] == [KERNEL_ACCOUNT]


def test_logname_of_an_administrator_grants_nothing(isolated_home):
    assert mailsiren("users", "add", "bob").returncode == 0  # alice: the first user, an admin
    spoofed = real_mailsiren("users", "grant", "bob", "admin", claimed="alice")
    assert spoofed.returncode == 1
    assert f"{KERNEL_ACCOUNT} lacks the 'admin' permission" in spoofed.stderr
    listed = json.loads(mailsiren("users", "list", "--json").stdout)
    assert "admin" not in {user["name"]: user for user in listed}["bob"]["permissions"]
