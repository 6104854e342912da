"""The demo's feed: realistic alert mails from four monitoring systems, sent over SMTP on a
schedule (problems, repeats, a retry, recoveries, a flapping service, an auto-reply)."""

from __future__ import annotations

import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

CONNECT_WAIT_SECONDS = 30.0  # serve starts beside the feed: wait this long for its port
MONITORING_DOMAIN = "mon.example.net"


@dataclass(frozen=True)
class FeedMail:
    """One alert mail of the feed, sent `at` seconds after the feed starts."""

    at: float
    to: str
    sender: str
    subject: str
    body: str
    html: bool = False  # Alertmanager's mails are HTML only
    auto_reply: bool = False  # an out-of-office reply: mailsiren must record `loop`
    resend_of_previous: bool = False  # a sender's retry: the same bytes again (`duplicate`)
    expect: str = ""  # the outcome mailsiren must record (tests/e2e/test_demo.py checks)


def nagios(at: float, kind: str, host: str, service: str, state: str, info: str, **kw) -> FeedMail:
    subject = f"** {kind} Service Alert: {host}/{service} is {state} **"
    body = (
        "***** Nagios *****\n\n"
        f"Notification Type: {kind}\n\nService: {service}\nHost: {host}\nState: {state}\n\n"
        f"Additional Info:\n\n{info}\n"
    )
    return FeedMail(at, "nagios@alerts.example.com", f"nagios@{MONITORING_DOMAIN}", subject, body,
                    **kw)  # fmt: skip


def alertmanager(at: float, status: str, alert: str, labels: str, summary: str, **kw) -> FeedMail:
    count = "" if status == "RESOLVED" else ":2"
    body = (
        '<!DOCTYPE html><html><body><table><tr><td><a href="http://am.example.net/#/alerts">'
        f"View in Alertmanager</a></td></tr><tr><td><strong>[{status}]</strong></td></tr>"
        f"<tr><td>Labels<br />alertname = {alert}<br />{labels}</td></tr>"
        f"<tr><td>Annotations<br />summary = {summary}</td></tr></table></body></html>"
    )
    return FeedMail(at, "prometheus@alerts.example.com", f"alertmanager@{MONITORING_DOMAIN}",
                    f"[{status}{count}] {alert} ({labels})", body, html=True, **kw)  # fmt: skip


def zabbix(at: float, subject: str, problem_id: int, started: str, **kw) -> FeedMail:
    body = (
        f"{started}\nProblem name: High CPU utilization on app01\nHost: app01\n"
        f"Severity: High\nOperational data: 97 %\nOriginal problem ID: {problem_id}\n"
        f"http://zabbix.example.net/tr_events.php?triggerid=1&eventid={problem_id}\n"
    )
    return FeedMail(at, "zabbix@alerts.example.com", f"zabbix@{MONITORING_DOMAIN}", subject, body,
                    **kw)  # fmt: skip


def grafana(at: float, title: str, value: str, **kw) -> FeedMail:
    body = f"[Alerting] {title}\n\nMetric: checkout_errors_per_minute = {value}\n"
    return FeedMail(at, "grafana@alerts.example.com", f"grafana@{MONITORING_DOMAIN}",
                    f"[Alerting] {title}", body, **kw)  # fmt: skip


DISK = ("web01", "Disk /var")
FLAPPING = ("lb01", "HTTP")

FEED: tuple[FeedMail, ...] = (
    nagios(0, "PROBLEM", *DISK, "CRITICAL", "DISK CRITICAL - free space: /var 312 MB (3%)",
           expect="created"),
    alertmanager(2, "FIRING", "HighLatency", "api prod critical", "p99 latency above 2s for 10m",
                 expect="created"),
    zabbix(4, "Problem: High CPU utilization on app01", 4711,
           "Problem started at 03:04:00", expect="created"),
    nagios(7, "PROBLEM", "db01", "Load", "WARNING", "WARNING - load average: 9.81, 8.02, 6.40",
           expect="created"),
    grafana(10, "Checkout error rate", "41", expect="created"),
    nagios(14, "PROBLEM", *FLAPPING, "CRITICAL", "HTTP CRITICAL: 503 Service Unavailable",
           expect="created"),
    FeedMail(20, "nagios@alerts.example.com", "bob@corp.example.com",
             "Automatic reply: ** PROBLEM Service Alert: web01/Disk /var is CRITICAL **",
             "I am out of office until Monday.\n", auto_reply=True, expect="loop"),
    nagios(25, "RECOVERY", *FLAPPING, "OK", "HTTP OK: 200 in 0.04 s", expect="resolved"),
    nagios(30, "PROBLEM", *DISK, "CRITICAL", "DISK CRITICAL - free space: /var 201 MB (2%)",
           expect="appended"),
    FeedMail(31, "", "", "", "", resend_of_previous=True, expect="duplicate"),
    nagios(35, "PROBLEM", *FLAPPING, "CRITICAL", "HTTP CRITICAL: 503 Service Unavailable",
           expect="created"),
    alertmanager(45, "FIRING", "HighLatency", "api prod critical", "p99 latency above 3s for 15m",
                 expect="appended"),
    nagios(50, "RECOVERY", *FLAPPING, "OK", "HTTP OK: 200 in 0.05 s", expect="resolved"),
    grafana(60, "Checkout error rate", "57", expect="appended"),
    nagios(65, "PROBLEM", *FLAPPING, "CRITICAL", "HTTP CRITICAL: connection refused",
           expect="created"),
    FeedMail(75, "nagios@alerts.example.com", f"nagios@{MONITORING_DOMAIN}",
             "Nagios notification test from mon.example.net", "This is a test.\n",
             expect="filtered"),
    nagios(80, "RECOVERY", *FLAPPING, "OK", "HTTP OK: 200 in 0.03 s", expect="resolved"),
    zabbix(95, "Resolved in 1m 31s: High CPU utilization on app01", 4711,
           "Problem has been resolved at 03:05:31", expect="resolved"),
    nagios(120, "RECOVERY", "db01", "Load", "OK", "OK - load average: 1.02, 2.40, 4.11",
           expect="resolved"),
    alertmanager(150, "RESOLVED", "HighLatency", "api prod critical", "p99 latency back to 180ms",
                 expect="resolved"),
    nagios(170, "RECOVERY", "web02", "Swap", "OK", "SWAP OK - 88% free", expect="orphan_resolve"),
    nagios(200, "PROBLEM", *DISK, "CRITICAL", "DISK CRITICAL - free space: /var 96 MB (1%)",
           expect="appended"),
)  # fmt: skip


def build_message(mail: FeedMail, moment: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail.sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(moment)
    message["Message-ID"] = make_msgid(domain=MONITORING_DOMAIN)
    if mail.auto_reply:
        message["Auto-Submitted"] = "auto-replied"
    if mail.html:
        message.set_content(mail.body, subtype="html")
    else:
        message.set_content(mail.body)
    return message


@dataclass(frozen=True)
class FeedEvent:
    """What happened to one mail of the feed: sent (the listener said 250) or not, and why."""

    number: int
    total: int
    mail: FeedMail
    subject: str
    error: str | None = None


class Feed:
    """Sends FEED to the listener at host:port in a thread, `speed` times faster than real time;
    `stop()` ends it early. Each mail's result goes to `report` (from the feed's thread)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        speed: float = 1.0,
        report: Callable[[FeedEvent], None] = lambda _event: None,
        mails: tuple[FeedMail, ...] = FEED,
        certificate: Path | None = None,
    ) -> None:
        self.host, self.port, self.speed = host, port, speed
        self.certificate = certificate  # serve's own: STARTTLS is verified against it
        self.report = report
        self.mails = mails
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="mailsiren-demo-feed", daemon=True)
        self.sent = 0
        self.failed = 0
        self.started_at: float | None = None

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the last mail; True when the feed has ended."""
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def duration(self) -> float:
        """Seconds from the first mail to the last."""
        return self.mails[-1].at / self.speed if self.mails else 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.started_at if self.started_at is not None else 0.0

    def run(self) -> None:
        if not self._wait_for_listener():
            return
        started = self.started_at = time.monotonic()
        previous: EmailMessage | None = None
        for number, mail in enumerate(self.mails, start=1):
            delay = started + mail.at / self.speed - time.monotonic()
            if delay > 0 and self.stopping.wait(delay):
                return
            if mail.resend_of_previous and previous is not None:
                message = previous
            else:
                message = build_message(mail, datetime.now(UTC))
            error = self._send(message, starttls=mail.html)
            if error is None:
                self.sent += 1
            else:
                self.failed += 1
            previous = message
            self.report(FeedEvent(number, len(self.mails), mail, str(message["Subject"]), error))

    def _wait_for_listener(self) -> bool:
        deadline = time.monotonic() + CONNECT_WAIT_SECONDS
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return True
            except OSError:
                if self.stopping.wait(0.1):
                    return False
        self.failed = len(self.mails)
        self.report(
            FeedEvent(
                0,
                len(self.mails),
                self.mails[0],
                "",
                f"nothing listens on {self.host}:{self.port} after "
                f"{CONNECT_WAIT_SECONDS:.0f} s: serve did not start",
            )  # fmt: skip
        )
        return False

    def _send(self, message: EmailMessage, *, starttls: bool) -> str | None:
        """Send one mail; None when the listener answered 250, else what went wrong."""
        try:
            with smtplib.SMTP(self.host, self.port, timeout=30) as client:
                if starttls:  # as Alertmanager does by default, verifying the certificate
                    # serve made for itself (it names 127.0.0.1), as its ca_file would
                    cafile = str(self.certificate) if self.certificate else None
                    client.starttls(context=ssl.create_default_context(cafile=cafile))
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            return str(error) or type(error).__name__
        return None
