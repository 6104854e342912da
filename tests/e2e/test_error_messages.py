"""What an operator meets when the machine is in the way: each message says what happened and
what to do, without a traceback (real processes, real files, a real port held by another)."""

from __future__ import annotations

import socket
import sqlite3
import subprocess

from app import paths
from app.server.supervisor import ServeSupervisor
from tests.e2e.process import mailsiren


def told(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("mailsiren: "), result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_a_broken_settings_file_is_named_with_its_line(isolated_home):
    paths.settings_file().parent.mkdir(parents=True)
    paths.settings_file().write_text('listener_port = "2525\n')
    told(mailsiren("incidents", "list"), str(paths.settings_file()), "line 1", "Fix the file")


def test_a_locked_database_names_the_file_and_what_to_do(isolated_home):
    assert mailsiren("incidents", "list").returncode == 0  # made and migrated
    holder = sqlite3.connect(paths.default_database_path())
    holder.execute("BEGIN EXCLUSIVE")  # as an sqlite3 shell left in a transaction would
    try:
        result = mailsiren("users", "add", "bob")  # waits busy_timeout (10 s), then gives up
    finally:
        holder.rollback()
        holder.close()
    told(result, "is locked", "fuser", "Nothing was changed")
    assert mailsiren("users", "add", "bob").returncode == 0  # and works once it is free


def test_a_file_that_is_no_database_is_named(isolated_home, tmp_path):
    junk = tmp_path / "notes.db"
    junk.write_text("shopping list\n")
    told(mailsiren("incidents", "list", env={"MAILSIREN_DB": str(junk)}),
         f"{junk} is not an SQLite database", "MAILSIREN_DB")  # fmt: skip
    assert junk.read_text() == "shopping list\n"


def test_sqlite_failures_are_explained_in_words_a_person_can_act_on():
    from sqlalchemy.exc import OperationalError

    from app.core.store.db import database_problem

    for reason, advice in (
        ("attempt to write a readonly database", "write access to the file and its folder"),
        ("database or disk is full", "free some space"),
        ("database disk image is malformed", "restore it from a backup"),
        ("unable to open database file", "this user may write there"),
    ):
        error = OperationalError("INSERT", {}, sqlite3.OperationalError(reason))
        message = str(database_problem(error, "sqlite:////srv/mailsiren.db"))
        assert "/srv/mailsiren.db" in message and advice in message, message
        assert f"(SQLite said: {reason})" in message


def test_key_file_problems(isolated_home):
    assert mailsiren("users", "set", "alice", "--email", "alice@example.com").returncode == 0
    key = paths.key_file()
    key.chmod(0o644)
    told(mailsiren("users", "list"), "readable by other users", f"chmod 600 {key}")
    key.chmod(0o600)
    saved = key.read_bytes()
    key.write_text("garbage\n")
    told(mailsiren("users", "list"), f"{key}:1", "unknown line")
    key.unlink()  # lost: a new key cannot read what the old one wrote
    told(mailsiren("users", "list"), "does not belong to this database", "from your backup")
    key.write_bytes(saved)
    key.chmod(0o600)
    assert "alice@example.com" in mailsiren("users", "list").stdout


def test_a_port_in_use_is_named_by_serve_and_by_the_ui_line(isolated_home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        told(mailsiren("serve", "--smtp-port", str(port)),
             f"cannot listen on 127.0.0.1:{port}", "--smtp-port")  # fmt: skip

        paths.settings_file().parent.mkdir(parents=True, exist_ok=True)
        paths.settings_file().write_text(f"listener_port = {port}\n")
        supervisor = ServeSupervisor(paths.load_settings().database_url,
                                     paths.data_dir() / "serve.log")  # fmt: skip
        supervisor.ensure()
        supervisor.child.wait(timeout=60)
        status = supervisor.status()
    assert status.startswith("serve stopped (exit 1): mailsiren: cannot listen on"), status
    assert "serve.log" in status


def test_no_permission_says_which_permission(isolated_home):
    assert mailsiren("users", "list").returncode == 0  # alice: the first user, an admin
    assert mailsiren("users", "add", "bob").returncode == 0
    told(mailsiren("incidents", "accept", "1", login="bob"), "triage")
