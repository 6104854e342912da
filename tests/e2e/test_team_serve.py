"""A team deployment as real processes: two `serve`s (two hosts behind two MX records, each
its own data folder, one shared key file) and three operators on one PostgreSQL database."""

from __future__ import annotations

import os
import shutil
import smtplib
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes, policy
from pathlib import Path

from tests.as_operator import LOGIN_VARIABLE
from tests.e2e.process import MAILSIREN, mailsiren, mailsiren_json
from tests.e2e.serve import recorded_as_sent, running_serve
from tests.mails import alert_mail

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SOURCE = "nagios@alerts.example.com"


def nagios(kind: str, host: str, service: str, state: str) -> bytes:
    """A Nagios service alert: what it says, in its subject and body."""
    return alert_mail(
        f"** {kind} Service Alert: {host}/{service} is {state} **",
        f"***** Nagios *****\nHost: {host}\nService: {service}\nState: {state}",
        sender="nagios@monitor.example.com", to=SOURCE,
    )  # fmt: skip


def deliver(port: int, raw: bytes) -> None:
    """One SMTP session; smtplib raises unless the listener answered 250."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail("nagios@monitor.example.com", [SOURCE], raw)


def deliver_at_once(deliveries: list[tuple[int, bytes]]) -> None:
    """Each (port, mail) in its own session, up to the final dot; then every final dot at
    the same moment, so that the listeners store them at once. Each must get 250."""
    ready = threading.Barrier(len(deliveries))

    def one(port: int, raw: bytes) -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.ehlo()
            client.mail("nagios@monitor.example.com")
            client.rcpt(SOURCE)
            code, _ = client.docmd("DATA")
            assert code == 354
            client.send(raw)  # the message, and then, together with the others, its end
            ready.wait()
            client.send(b"\r\n.\r\n")
            return client.getreply()

    with ThreadPoolExecutor(len(deliveries)) as pool:
        replies = list(pool.map(lambda delivery: one(*delivery), deliveries))
    assert [code for code, _ in replies] == [250] * len(deliveries), replies


def second_host(tmp_path: Path, url: str) -> dict:
    """Host B: its own data folder, the team's database and a copy of the one key file."""
    data = tmp_path / "host-b" / "data"
    key = Path(mailsiren("locate", "key").stdout.strip())
    (data / "mailsiren").mkdir(parents=True)
    shutil.copy2(key, data / "mailsiren" / "mailsiren.key")
    (data / "mailsiren" / "mailsiren.key").chmod(0o600)
    return {"MAILSIREN_DB": url, "XDG_DATA_HOME": str(data)}


def test_two_listeners_and_three_operators_behave_as_one_mailsiren(
    postgres_server, smtp_server, trust_test_ca, tmp_path
):
    url = postgres_server.new_database(template=None)  # the two serves migrate it at once
    host_a = {"MAILSIREN_DB": url}
    notified = smtp_server(auth=False)
    for command in (
        ("config", "import", str(FIXTURES / "sources.toml")),
        ("smtp", "set", "--server", "localhost", "--port", str(notified.port),
         "--from", "siren@example.com"),
        ("integrations", "add", "--address", "ops@example.com", "--level", "all", "--yes"),
        ("users", "add", "bob", "--permission", "triage"),
        ("users", "add", "carol", "--permission", "triage"),
    ):  # fmt: skip
        done = mailsiren(*command, env=host_a)
        assert done.returncode == 0, (command, done.stderr)
    host_b = second_host(tmp_path, url)

    with running_serve(env=host_a) as serve_a, running_serve(env=host_b) as serve_b:
        ports = [serve_a.port, serve_b.port]
        # The first two mails of a key, and one mail sent to both MX hosts, each stored by
        # both listeners at the same instant; then 38 more of that key, 12 sessions at once.
        same_key = [nagios("PROBLEM", "web01", "Disk /var", "CRITICAL") for _ in range(40)]
        twice = [nagios("PROBLEM", f"web0{n}", "Load", "WARNING") for n in range(2, 6)]
        deliver_at_once(
            [(ports[0], same_key[0]), (ports[1], same_key[1])]
            + [(port, raw) for raw in twice for port in ports]
        )
        with ThreadPoolExecutor(12) as pool:
            sent = [pool.submit(deliver, ports[n % 2], raw) for n, raw in enumerate(same_key[2:])]
            for delivery in sent:
                delivery.result(timeout=60)  # every mail was answered 250: it is stored

        incidents = mailsiren_json("incidents", "list", "--state", "all", env=host_a)
        by_title = {incident["title"]: incident for incident in incidents}
        assert len(incidents) == 5, incidents  # no duplicate incident
        disk = by_title["** PROBLEM Service Alert: web01/Disk /var is CRITICAL **"]
        assert disk["mail_count"] == 40
        mails = mailsiren_json("mails", "list", "--limit", "1000", env=host_b)
        assert len(mails) == 48  # no lost mail
        outcomes = sorted(mail["outcome"] for mail in mails)  # one source: one per mail
        assert outcomes == ["appended"] * 39 + ["created"] * 5 + ["duplicate"] * 4

        # Three operators accept the same incident at the same moment: one of them does.
        start = threading.Barrier(3)

        def operator(login: str) -> subprocess.CompletedProcess:
            start.wait()
            return subprocess.run(
                [*MAILSIREN, "incidents", "accept", str(disk["id"])],
                capture_output=True, text=True, timeout=60,
                env={**os.environ, **host_a, LOGIN_VARIABLE: login},
            )  # fmt: skip

        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(operator, ["alice", "bob", "carol"]))
        assert sorted(result.returncode for result in results) == [0, 1, 1], results
        assert all("is accepted" in r.stderr for r in results if r.returncode), results

        # One notification per new incident, whichever notifier sent it; then the recovery.
        notified.handler.wait_for_mails(5)
        deliver(ports[1], nagios("RECOVERY", "web01", "Disk /var", "OK"))
        received = notified.handler.wait_for_mails(6)
        sent_rows = recorded_as_sent(6, env=host_b)
    subjects = sorted(
        message_from_bytes(mail.data, policy=policy.default)["Subject"] for mail in received
    )
    assert len(notified.handler.received) == 6, subjects  # no duplicate notification
    assert [row["event"] for row in sent_rows].count("incident_opened") == 5
    assert sum(subject.endswith("(resolved)") for subject in subjects) == 1
    message_ids = {message_from_bytes(m.data)["Message-ID"] for m in notified.handler.received}
    assert len(message_ids) == 6
