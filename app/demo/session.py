"""`mailsiren demo`'s world: a throwaway data folder, the sample configuration, a local serve,
a local mailbox for the notifications, and the feed of alert mails; all gone when it ends.

The session points MAILSIREN_DATA_DIR, MAILSIREN_CONFIG_DIR and MAILSIREN_SHARED_CONFIG at
its own folder (and drops MAILSIREN_DB) for this process and the serve it starts, so the
user's own database, key file, settings and shared SMTP configuration are never opened.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import tomli_w

from app import paths
from app.demo.feed import Feed, FeedEvent
from app.demo.mailbox import DemoMailbox, free_port
from app.errors import MailsirenError
from app.server.certificate import CERTIFICATE_NAME
from app.server.supervisor import ServeSupervisor

ISOLATING_VARIABLES = (
    "MAILSIREN_DATA_DIR",
    "MAILSIREN_CONFIG_DIR",
    "MAILSIREN_SHARED_CONFIG",
    "MAILSIREN_DB",
)
DEMO_EMAIL = "operator@example.com"


def scenario_text() -> str:
    """The demo's configuration, an ordinary `config import` file shipped with mailsiren."""
    return files("app.demo").joinpath("scenario.toml").read_text(encoding="utf-8")


@dataclass(frozen=True)
class DemoSummary:
    """What the demo's database holds once the feed has run: for `demo --no-ui` to print."""

    outcomes: dict[str, int]
    incidents: dict[str, int]
    deliveries: dict[str, int]
    mailbox: int


class DemoSession:
    """Enter: the world is made and the feed runs. Exit: everything stopped and deleted."""

    def __init__(self, *, speed: float = 1.0, theme: str | None = None, report=None) -> None:
        if speed <= 0:
            raise MailsirenError(
                "--speed must be more than 0 (1 is real time, 10 ten times faster)"
            )
        self.speed = speed
        self.theme = theme or own_theme()
        self.report = report or (lambda _event: None)
        self.home: Path | None = None  # made on entering, deleted on leaving
        self.saved_environment = {name: os.environ.get(name) for name in ISOLATING_VARIABLES}
        self.listener_port = free_port()
        self.mailbox = DemoMailbox()
        self.workspace = None
        self.supervisor = None
        self.feed: Feed | None = None

    def __enter__(self) -> DemoSession:
        try:
            self._isolate()
            self._make_world()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_exception) -> None:
        self.close()

    def _isolate(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="mailsiren-demo-"))
        os.environ.pop("MAILSIREN_DB", None)
        os.environ["MAILSIREN_DATA_DIR"] = str(self.home / "data")
        os.environ["MAILSIREN_CONFIG_DIR"] = str(self.home / "config")
        os.environ["MAILSIREN_SHARED_CONFIG"] = str(self.home / "no-shared-configuration.conf")
        settings = {"listener_port": self.listener_port}
        if self.theme:
            settings["theme"] = self.theme
        paths.config_dir().mkdir(parents=True, mode=0o700)
        paths.settings_file().write_text(tomli_w.dumps(settings), encoding="utf-8")

    def _make_world(self) -> None:
        from app.core.configfile import import_config
        from app.core.sending.personal import SmtpForm, save_preferences
        from app.core.users import update_user
        from app.core.workspace import open_workspace

        self.mailbox.start()
        self.workspace = workspace = open_workspace()
        import_config(workspace.database, workspace.user, scenario_text(), origin="the demo")
        update_user(workspace.database, workspace.user, workspace.user.name, email=DEMO_EMAIL)
        workspace.refresh_user()
        save_preferences(  # notifications go to the demo's own mailbox, never out
            workspace.database,
            workspace.user,
            SmtpForm(server="127.0.0.1", port=str(self.mailbox.port), tls_mode="none"),
        )
        self.supervisor = DemoSupervisor(self, workspace.settings.database_url)
        self.supervisor.ensure()
        self.feed = Feed(
            "127.0.0.1",
            self.listener_port,
            speed=self.speed,
            report=self.report,
            certificate=paths.data_dir() / CERTIFICATE_NAME,
        )
        self.feed.start()

    def close(self) -> None:
        """Stop the feed, serve and the mailbox; forget the folder; restore the environment."""
        if self.feed is not None:
            self.feed.stop()
        if self.supervisor is not None:
            self.supervisor.stop()
        if self.workspace is not None:
            self.workspace.close()
        self.mailbox.stop()
        for name, value in self.saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)

    def progress(self) -> str:
        """One line on the demo for the incident log's status line."""
        feed = self.feed
        if feed is None:
            return "demo"
        done, total = feed.sent + feed.failed, len(feed.mails)
        if done < total:
            left = max(0.0, feed.duration() - feed.elapsed())
            part = f"{done} of {total} sample alerts in, the rest within {left:.0f} s"
        else:
            part = f"all {total} sample alerts in"
        if feed.failed:
            part += f", {feed.failed} refused (see {paths.data_dir() / 'serve.log'})"
        return f"demo: {part} · quit and it is all deleted"

    def wait_for_notifications(self, timeout: float) -> bool:
        """Wait until the notifier has tried every queued notification that storm control
        does not hold back; False on timeout."""
        from app.core.notifications.deliveries import list_deliveries

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            views = list_deliveries(self.workspace.database, self.workspace.user)
            if not any(view.status == "queued" and not view.held_until for view in views):
                return True
            time.sleep(0.2)
        return False

    def summary(self) -> DemoSummary:
        from app.core.incidents.views import list_incidents, list_mails
        from app.core.notifications.deliveries import list_deliveries

        database, user = self.workspace.database, self.workspace.user
        return DemoSummary(
            outcomes=dict(Counter(view.outcome for view in list_mails(database, limit=1000))),
            incidents=dict(
                Counter(view.state for view in list_incidents(database, state="all", limit=1000))
            ),
            deliveries=dict(Counter(view.status for view in list_deliveries(database, user))),
            mailbox=self.mailbox.handler.received,
        )


class DemoSupervisor(ServeSupervisor):
    """The ordinary supervisor of serve, its status line led by the feed's progress."""

    ASKS_BEFORE_STOPPING = False  # the demo is throwaway: q ends it, serve and folder too

    def __init__(self, session: DemoSession, database_url: str) -> None:
        super().__init__(database_url, paths.data_dir() / "serve.log")
        self.session = session

    def status(self) -> str:
        running = self.child_running()
        serve = f"serve on 127.0.0.1:{self.session.listener_port}" if running else super().status()
        return f"{self.session.progress()} · {serve}"


def own_theme() -> str | None:
    """The theme of the user's own config.toml, so the demo looks like their mailsiren."""
    try:
        return paths.load_settings().theme
    except MailsirenError:
        return None


__all__ = ["DemoSession", "DemoSummary", "FeedEvent", "scenario_text"]
