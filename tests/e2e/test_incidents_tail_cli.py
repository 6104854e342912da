"""`incidents tail`, `incidents wait` and the `--source/--key` selectors through real
processes (SPEC §16): a tail sees what other processes commit, as they commit it, and ends
cleanly on ctrl+c and on a closed pipe; on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
from collections.abc import Iterator

import pytest

from app.core.intake.pipeline import ingest_mail
from app.core.workspace import open_workspace
from tests.e2e.process import MAILSIREN, mailsiren, mailsiren_json
from tests.e2e.test_serve_notify import CORPUS
from tests.mails import alert_mail

NAGIOS = """
[[source]]
name = "nagios"
address = "nagios@alerts.example.com"
creation = "by_key"
[[source.key_rule]]
field = "subject"
extractor = "regex"
pattern = 'Alert: (\\S+)/(.+) is [A-Z]+'
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, monkeypatch, tmp_path) -> Iterator[None]:
    """The test and every process it starts use one database: SQLite in the isolated data
    folder, or a fresh PostgreSQL database through MAILSIREN_DB."""
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        url = server.new_database()
        monkeypatch.setenv("MAILSIREN_DB", url)
        yield
        server.drop_database(url)
        return
    yield


class Running:
    """A mailsiren process whose output lines are read as they come, with a deadline."""

    def __init__(self, *arguments: str, read_output: bool = True) -> None:
        self.process = subprocess.Popen(
            [*MAILSIREN, *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.errors: list[str] = []
        if read_output:  # else the test closes the pipe itself (a reader holds its lock)
            threading.Thread(
                target=self._read, args=(self.process.stdout, self.lines.put), daemon=True
            ).start()
        self.said: queue.Queue[str] = queue.Queue()
        threading.Thread(
            target=self._read, args=(self.process.stderr, self._said), daemon=True
        ).start()

    @staticmethod
    def _read(stream, keep) -> None:
        for line in stream:
            keep(line)

    def _said(self, line: str) -> None:
        self.errors.append(line)
        self.said.put(line)

    def next_line(self, seconds: float = 30) -> str:
        return self.lines.get(timeout=seconds)

    def next_error(self, seconds: float = 30) -> str:
        return self.said.get(timeout=seconds)


def ingest(eml: str) -> None:
    stored = subprocess.run(
        [*MAILSIREN, "ingest", "--to", "nagios@alerts.example.com"],
        input=(CORPUS / eml).read_bytes(), capture_output=True, timeout=60,
    )  # fmt: skip
    assert stored.returncode == 0, stored.stderr


def test_tail_shows_other_processes_changes_and_wait_and_selectors_act(backend, tmp_path):
    config = tmp_path / "nagios.toml"
    config.write_text(NAGIOS)
    assert mailsiren("config", "import", str(config)).returncode == 0
    tail = Running("incidents", "tail", "--json")
    assert "Following incident changes" in tail.next_error()
    try:
        ingest("01-nagios-problem-disk.eml")  # another process opens #1
        created = json.loads(tail.next_line())
        assert (created["id"], created["change"], created["state"]) == (1, "created", "pending")
        assert created["source"] == "nagios" and created["key"] == "web01-Disk /var"

        waiting = Running("incidents", "wait", "1", "--state", "accepted", "--timeout", "60s")
        accepted = mailsiren("incidents", "accept", "--source", "nagios", "--key", "web01*")
        assert accepted.returncode == 0, accepted.stderr
        assert accepted.stdout == "1 incident accepted: #1.\n"
        assert waiting.process.wait(timeout=30) == 0
        assert waiting.next_line() == "#1 is accepted.\n"
        changed = json.loads(tail.next_line())
        assert (changed["id"], changed["change"], changed["accepted_by"]) == (
            1,
            "accepted",
            "alice",
        )

        ingest("02-nagios-problem-load.eml")  # #2
        assert json.loads(tail.next_line())["id"] == 2
        resolved = mailsiren("incidents", "resolve", "--source", "nagios")
        assert resolved.stdout == "2 incidents resolved: #1, #2.\n"
        assert [json.loads(tail.next_line())["change"] for _ in range(2)] == ["resolved"] * 2
        none = mailsiren("incidents", "accept", "--source", "nagios")
        assert none.returncode == 0 and "nothing was changed" in none.stdout
    finally:
        tail.process.send_signal(signal.SIGINT)  # ctrl+c
    assert tail.process.wait(timeout=30) == 0
    assert not any("Traceback" in line for line in tail.errors), tail.errors

    timed_out = mailsiren("incidents", "wait", "1", "--state", "accepted", "--timeout", "1s")
    assert timed_out.returncode == 1
    assert "#1 is still resolved: not accepted after 1 s." in timed_out.stderr
    unknown = mailsiren("incidents", "wait", "9", "--state", "resolved")
    assert unknown.returncode == 1 and "no incident #9" in unknown.stderr
    bad = mailsiren("incidents", "wait", "1", "--state", "resolved", "--timeout", "soon")
    assert bad.returncode == 2 and "'soon' is not a duration" in bad.stderr


def test_a_tail_whose_reader_has_gone_ends_quietly(backend):
    tail = Running("incidents", "tail", read_output=False)
    assert "Following incident changes" in tail.next_error()
    tail.process.stdout.close()  # `| head` is done: nothing more will be read
    assert tail.process.wait(timeout=30) == 0  # seen while quiet, not at the next change
    assert not any("Traceback" in line or "Broken pipe" in line for line in tail.errors)


def test_a_selector_over_ten_asks_and_without_a_terminal_wants_yes(backend, tmp_path):
    config = tmp_path / "nagios.toml"
    config.write_text(NAGIOS)
    assert mailsiren("config", "import", str(config)).returncode == 0
    workspace = open_workspace()
    try:
        for host in range(11):
            subject = f"** PROBLEM Service Alert: web{host:02}/Disk is CRITICAL **"
            ingest_mail(workspace.database, alert_mail(subject), ["nagios@alerts.example.com"],
                        via="smtp")  # fmt: skip
    finally:
        workspace.close()
    refused = mailsiren("incidents", "accept", "--source", "nagios")
    assert refused.returncode == 1
    assert "more than 10, and no terminal to ask y/n on; add --yes" in refused.stderr
    assert len(mailsiren_json("incidents", "list", "--state", "pending")) == 11  # none changed
    narrowed = mailsiren("incidents", "accept", "--source", "nagios", "--key", "web0[0-4]-*")
    assert narrowed.stdout.startswith("5 incidents accepted: #1, #2, #3, #4, #5.")
    done = mailsiren("incidents", "accept", "--source", "nagios", "--yes")
    assert done.returncode == 0 and done.stdout.startswith("6 incidents accepted: #6,")
    both = mailsiren("incidents", "resolve", "3", "--source", "nagios")
    assert both.returncode == 1 and "give ids or --source, not both" in both.stderr
    nothing = mailsiren("incidents", "resolve")
    assert nothing.returncode == 1 and "their ids, or --source NAME" in nothing.stderr
    wrong = mailsiren("incidents", "resolve", "--source", "nagois")
    assert wrong.returncode == 1 and "the sources are: nagios" in wrong.stderr
