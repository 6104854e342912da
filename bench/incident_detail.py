"""The incident detail of a big incident: time to open it, and what a mail elsewhere costs it.

Run: .venv/bin/python bench/incident_detail.py [--mails 10000] [--runs 5]
Seeds a temporary database with one incident of `--mails` mails (2 KiB each) and another
incident, then runs the app headless (120×36) and prints, as medians of `--runs`: the time
from pushing the detail of the big incident to its summary and mails shown; the reference
in the same run, a screen holding a plain DataTable of 100 rows, pushed and shown the same
way; their ratio; the time of one reload of the detail (what a change to the incident
costs); and how many reads of the detail 5 mails for the other incident cause (issue 26:
opens < 300 ms at 10,000 mails, reloads only when that incident changed).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
home = Path(tempfile.mkdtemp(prefix="mailsiren-bench-detail-"))
os.environ["XDG_DATA_HOME"] = str(home / "data")
os.environ["XDG_CONFIG_HOME"] = str(home / "config")

from sqlalchemy import insert  # noqa: E402

from app.core.configfile import import_config  # noqa: E402
from app.core.intake.pipeline import ingest_mail  # noqa: E402
from app.core.store.models import Incident, Mail, MailOutcome, TimelineEvent  # noqa: E402
from app.core.workspace import open_workspace  # noqa: E402

ADDRESS = "nagios@alerts.example.com"
BODY = "Host web01 service Disk /var is CRITICAL: 97% used.\r\n" * 38  # about 2 KiB


def raw_mail(number: int) -> bytes:
    return (
        f"From: nagios@mon.example.net\r\nTo: {ADDRESS}\r\n"
        f"Subject: ** PROBLEM Service Alert: web01/Disk /var is CRITICAL ** #{number}\r\n"
        f"Message-ID: <big{number}@mon>\r\n\r\n{BODY}"
    ).encode()


def seed(workspace, mails: int) -> None:
    """Incident #1 with `mails` mails, its timeline's `created`; incident #2 has none yet."""
    import_config(
        workspace.database, workspace.user,
        f'[[source]]\nname = "nagios"\naddress = "{ADDRESS}"\ncreation = "per_subject"\n',
    )  # fmt: skip
    start = datetime.now(UTC) - timedelta(days=7)
    title = "** PROBLEM Service Alert: web01/Disk /var is CRITICAL **"
    with workspace.database.write() as session:
        connection = session.connection()
        connection.execute(
            insert(Incident.__table__),
            [dict(id=1, source_id=1, state="pending", severity="alert", title=title, key=None,
                  subject_key=title, mail_count=mails, created_at=start, updated_at=start)],
        )  # fmt: skip
        for chunk in range(0, mails, 2_000):
            numbers = range(chunk + 1, min(mails, chunk + 2_000) + 1)
            rows = []
            for number in numbers:
                raw = raw_mail(number)
                rows.append(
                    dict(id=number, received_at=start + timedelta(seconds=number), via="smtp",
                         envelope_from="nagios@mon.example.net", envelope_to=[ADDRESS],
                         message_id=f"<big{number}@mon>",
                         raw_sha256=hashlib.sha256(raw).hexdigest(), size=len(raw),
                         subject=f"** PROBLEM Service Alert: web01/Disk /var is CRITICAL ** "
                                 f"#{number}",
                         from_header="nagios@mon.example.net", defects=[], body_text=BODY,
                         raw=raw)
                )  # fmt: skip
            connection.execute(insert(Mail.__table__), rows)
            connection.execute(
                insert(MailOutcome.__table__),
                [dict(mail_id=number, source_id=1, outcome="created" if number == 1 else
                      "appended", incident_id=1, reason="") for number in numbers],
            )  # fmt: skip
        connection.execute(
            insert(TimelineEvent.__table__),
            [dict(incident_id=1, at=start, kind="created", detail="opened by mail 1", mail_id=1)],
        )


def rows_shown(screen, selector: str) -> int:
    """The rows of the screen's table, 0 while it is not composed yet."""
    from textual.css.query import NoMatches

    try:
        return screen.query_one(selector).row_count
    except NoMatches:
        return 0


async def until(pilot, condition, timeout: float = 120.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError
        await pilot.pause(0.002)


async def measure(workspace, runs: int) -> dict:
    from textual.screen import Screen
    from textual.widgets import DataTable, Static

    from app.ui.app import MailsirenApp
    from app.ui.screens import incident_detail
    from app.ui.screens.incident_detail import IncidentDetailScreen
    from tests.ui.pilot import settle

    class Reference(Screen):
        """A plain DataTable of 100 rows, as many as the detail's window of mails."""

        def compose(self):
            yield DataTable(id="plain")

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            table.add_columns("Mail", "Outcome", "Subject")
            for number in range(100):
                table.add_row(str(number), "appended", f"** PROBLEM web01 ** #{number}")

    reads = []
    real_show = incident_detail.show_incident

    def counted(*args, **kwargs):
        reads.append(1)
        return real_show(*args, **kwargs)

    incident_detail.show_incident = counted
    figures: dict[str, list[float] | int] = {"open": [], "reference": [], "reload": []}
    app = MailsirenApp(workspace, initial_mode="integrations")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        for _ in range(runs):
            pushed = time.perf_counter()
            reference = Reference()
            app.push_screen(reference)
            await until(pilot, lambda reference=reference: rows_shown(reference, "#plain") == 100)
            await pilot.pause()  # painted
            figures["reference"].append(time.perf_counter() - pushed)  # type: ignore[union-attr]
            app.pop_screen()
            await settle(app, pilot)

            pushed = time.perf_counter()
            screen = IncidentDetailScreen(1)
            app.push_screen(screen)

            def shown(screen=screen) -> bool:
                if not rows_shown(screen, "#mails"):
                    return False
                return str(screen.query_one("#summary", Static).render()).startswith("#1 ")

            await until(pilot, shown)
            await pilot.pause()  # painted
            figures["open"].append(time.perf_counter() - pushed)  # type: ignore[union-attr]
            await settle(app, pilot)

            before = len(reads)
            reloaded = time.perf_counter()
            screen.load()
            await until(pilot, lambda before=before: len(reads) > before)
            await settle(app, pilot)
            figures["reload"].append(time.perf_counter() - reloaded)  # type: ignore[union-attr]
            app.pop_screen()
            await settle(app, pilot)

        # Mails for another incident while the detail is open: how many reads they cause.
        screen = IncidentDetailScreen(1)
        app.push_screen(screen)
        await settle(app, pilot)
        other = open_workspace()
        before = len(reads)
        for number in range(5):
            raw = f"Subject: PROBLEM db0{number} DOWN\r\nMessage-ID: <o{number}@m>\r\n\r\nx\r\n"
            arrived = threading.Thread(
                target=ingest_mail, args=(other.database, raw.encode(), [ADDRESS]),
                kwargs={"via": "smtp"},
            )  # fmt: skip
            arrived.start()
            while arrived.is_alive():
                await pilot.pause(0.01)
            screen.check_for_changes()  # what the screen's timer does every second
            await settle(app, pilot)
        figures["reads_for_other_mails"] = len(reads) - before
        other.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    workspace = open_workspace()
    seeded = time.perf_counter()
    seed(workspace, options.mails)
    print(f"seeded an incident of {options.mails:,} mails in {time.perf_counter() - seeded:.1f} s")
    figures = asyncio.run(measure(workspace, options.runs))
    opened = statistics.median(figures["open"]) * 1000  # type: ignore[arg-type]
    reference = statistics.median(figures["reference"]) * 1000  # type: ignore[arg-type]
    reload = statistics.median(figures["reload"]) * 1000  # type: ignore[arg-type]
    print(f"detail of an incident of {options.mails:,} mails, opened: {opened:7.0f} ms (median)")
    print(f"plain DataTable of 100 rows, shown:            {reference:7.0f} ms (the reference)")
    print(f"ratio: {opened / reference:.1f}× the reference; target: opens < 300 ms")
    print(f"one reload of the detail (its incident changed): {reload:5.0f} ms (median)")
    print(
        f"reads of the detail caused by 5 mails for another incident: "
        f"{figures['reads_for_other_mails']} (target 0)"
    )
    workspace.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
