"""`serve --metrics-port` as a real process (SPEC §17): /metrics scraped before and after
swaks delivers mail, a connection held open, a 451 from a locked database; a port in use
stops serve with one clear line."""

from __future__ import annotations

import smtplib
import socket
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.peers import free_port
from tests.e2e.process import MAILSIREN, mailsiren
from tests.e2e.serve import running_serve
from tests.e2e.test_serve import CORPUS, sources  # noqa: F401 - the fixture
from tests.e2e.test_serve_notify import swaks

Samples = dict[tuple[str, frozenset], float]
RECEIVED = "mailsiren_mails_received_total"
ZABBIX = (CORPUS[0].parent / "09-zabbix-problem.eml").read_bytes()


def scrape(port: int) -> Samples:
    """Every sample /metrics gives now, by name and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def scrape_until(port: int, holds: Callable[[Samples], bool], seconds: float = 20) -> Samples:
    """Scrape until `holds` (the listener's push reaches the metrics child a moment later)."""
    deadline = time.monotonic() + seconds
    while True:
        samples = scrape(port)
        if holds(samples):
            return samples
        assert time.monotonic() < deadline, samples


def test_the_series_move_as_mail_arrives_connections_open_and_storage_fails(
    sources,  # noqa: F811
    isolated_home,
):
    metrics_port = free_port()
    with running_serve(arguments=("--metrics-port", str(metrics_port))) as serve:
        before = scrape(metrics_port)
        assert not [name for name, _ in before if name == RECEIVED]
        assert value(before, "mailsiren_incidents_open", source="nagios", state="pending") == 0
        assert value(before, "mailsiren_listener_connections") == 0
        assert value(before, "mailsiren_listener_451_replies_total", command="DATA") == 0
        assert value(before, "mailsiren_database_up") == 1
        assert f"metrics at http://127.0.0.1:{metrics_port}/metrics" in serve.output()

        with smtplib.SMTP("127.0.0.1", serve.port) as held:
            held.ehlo()
            scrape_until(metrics_port, lambda s: value(s, "mailsiren_listener_connections") == 1)
            for eml in ("01-nagios-problem-disk.eml", "02-nagios-problem-load.eml",
                        "03-nagios-problem-disk-again.eml"):  # fmt: skip
                swaks(serve.port, eml)
            after = scrape(metrics_port)
        assert value(after, RECEIVED, source="nagios", outcome="created") == 2
        assert value(after, RECEIVED, source="nagios", outcome="appended") == 1
        assert value(after, "mailsiren_incidents_open", source="nagios", state="pending") == 2
        scrape_until(metrics_port, lambda s: value(s, "mailsiren_listener_connections") == 0)

        database = isolated_home / "data" / "mailsiren" / "mailsiren.db"
        blocker = sqlite3.connect(database, timeout=1)
        blocker.execute("BEGIN EXCLUSIVE")  # the storage child cannot commit: 451
        try:
            with (
                smtplib.SMTP("127.0.0.1", serve.port, timeout=60) as client,
                pytest.raises(smtplib.SMTPDataError) as caught,
            ):
                client.sendmail("x@example.net", ["zabbix@alerts.example.com"], ZABBIX)
            assert caught.value.smtp_code == 451
        finally:
            blocker.rollback()
            blocker.close()
        failed = scrape_until(
            metrics_port,
            lambda s: value(s, "mailsiren_listener_451_replies_total", command="DATA") == 1,
        )
        assert value(failed, RECEIVED, source="zabbix", outcome="created") is None  # not stored


def test_a_metrics_port_in_use_stops_serve_with_one_clear_line(sources):  # noqa: F811
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        started = subprocess.run(
            [*MAILSIREN, "serve", "--smtp-port", str(free_port()), "--metrics-port", str(busy)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert started.returncode == 1
    assert f"cannot serve metrics on 127.0.0.1:{busy}: Address already in use" in started.stderr
    assert "Traceback" not in started.stderr
    alone = mailsiren("serve", "--metrics-host", "::1")  # a usage mistake: exit 2, and why
    assert alone.returncode == 2 and "--metrics-host needs --metrics-port" in alone.stderr
