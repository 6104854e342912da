"""`mailsiren demo`: its own serve receives the feed over SMTP, incidents open and resolve,
notifications reach its own mailbox, and the user's own data is never opened."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
from collections import Counter
from pathlib import Path

from app.demo.feed import FEED
from app.ui.app import MailsirenApp
from app.ui.widgets.incident_table import IncidentTable
from app.ui.widgets.log_header import LogHeader
from tests.e2e.process import MAILSIREN
from tests.ui.pilot import settle


def test_the_printed_demo_receives_every_mail_and_leaves_nothing_behind(isolated_home, monkeypatch):
    own_database = isolated_home / "somewhere" / "mine.db"
    monkeypatch.setenv("MAILSIREN_DB", str(own_database))  # must not be touched either
    shown = subprocess.run(
        [*MAILSIREN, "demo", "--no-ui", "--speed", "40"],
        capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stdout + shown.stderr
    lines = shown.stdout.splitlines()
    assert sum("→ accepted (250)" in line for line in lines) == len(FEED)

    outcomes = re.search(r"^outcomes: +(.*)$", shown.stdout, re.M).group(1)
    expected = Counter(mail.expect for mail in FEED)
    assert outcomes == ", ".join(f"{count} {word}" for word, count in sorted(expected.items()))
    assert re.search(r"^incidents: +2 pending, 6 resolved$", shown.stdout, re.M)
    notifications = re.search(r"^notifications: +(.*)$", shown.stdout, re.M).group(1)
    assert "1 failed" in notifications  # the list that refuses outside senders
    sent = int(re.search(r"(\d+) sent", notifications).group(1))
    arrived = int(re.search(r"(\d+) arrived in the demo's mailbox", notifications).group(1))
    assert sent == arrived > 0

    folder = Path(re.search(r"data in (\S+) ", shown.stdout).group(1))
    assert not folder.exists()
    assert not own_database.exists() and not (isolated_home / "data" / "mailsiren").exists()
    assert not (isolated_home / "config" / "mailsiren").exists()


async def test_the_demo_shows_alerts_arriving_in_the_live_log(isolated_home):
    from app.demo.session import DemoSession

    with DemoSession(speed=40) as session:
        app = MailsirenApp(session.workspace, serve=session.supervisor)
        async with app.run_test(size=(120, 36)) as pilot:
            assert await asyncio.to_thread(session.feed.wait, 120), "the feed did not end"
            table = app.screen.query_one(IncidentTable)
            header = app.screen.query_one(LogHeader)
            for _ in range(100):  # the log polls twice a second: wait on what it shows
                await settle(app, pilot)
                if table.row_count == 2 and "sample alerts in," not in str(header.render()):
                    break
                await pilot.pause(0.05)
            titles = {str(table.get_row_at(index)[3]) for index in range(table.row_count)}
            assert titles == {
                "** PROBLEM Service Alert: web01/Disk /var is CRITICAL **",
                "[Alerting] Checkout error rate",
            }
            shown = str(header.render())
            assert "▲ 2 pending" in shown and "✓ 6 resolved" in shown
            assert f"all {len(FEED)} sample alerts in" in shown
            await pilot.press("a")  # the newest: accept it, as a newcomer would
            await settle(app, pilot)
            assert "◆ 1 accepted" in str(header.render())
        home = session.home
    assert not home.exists()
    assert not (isolated_home / "data" / "mailsiren").exists()


def test_a_terminated_demo_stops_its_serve_and_deletes_its_folder(isolated_home):
    """SIGTERM (or SIGHUP, when the SSH session closes) ends the demo as `q` does."""
    demo = subprocess.Popen(
        [*MAILSIREN, "demo", "--no-ui"], stdout=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        started = demo.stdout.readline()
        first_mail = demo.stdout.readline()  # the feed runs: serve is up and storing
        assert " 1/22 " in first_mail, started + first_mail
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) == 130
    finally:
        if demo.poll() is None:
            demo.kill()
    port = int(re.search(r"serve on 127\.0\.0\.1:(\d+)", started).group(1))
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # serve is gone
    assert not Path(re.search(r"data in (\S+) ", started).group(1)).exists()
