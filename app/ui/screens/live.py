"""LiveScreen: a screen read again within a second of any change to the database."""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar

from textual import events, on, work
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from app.core.store.changes import database_token

POLL_GROUP = "live-poll"
Token = Hashable  # the database's change token, or a screen's own (`poll_token`)


class LiveScreen(Screen):
    """Every POLL_SECONDS while `polls_now()` (by default: while it is the current screen),
    one thread worker at a time reads the database's change token; when it moved since
    `live_token`, `changed()` reads the screen again (its `load()` unless it says otherwise).

    The token starts unknown, so the first poll (when the screen is first shown) loads it;
    a screen shown again (back from an editor) polls at once. A failed worker forgets the
    token: whatever it was reading is read again at the next poll.
    """

    POLL_SECONDS: ClassVar[float] = 1.0
    live_token: Token | None = None  # the token the data shown was read at

    @on(events.Mount)
    def start_polling(self) -> None:
        self.set_interval(self.POLL_SECONDS, self.check_for_changes)

    @on(events.ScreenResume)
    def poll_when_shown(self) -> None:
        self.check_for_changes()

    def polls_now(self) -> bool:
        """Only while current: hidden, the screen would read what nobody sees."""
        return self.is_current

    def check_for_changes(self) -> None:
        """The timer's tick: one poll at a time (a slow database must not pile them up)."""
        if self.polls_now() and not self.busy(POLL_GROUP):
            self.read_token(self.live_token)

    def busy(self, group: str) -> bool:
        """A worker of this screen's `group` is running (self.workers are the whole app's)."""
        return any(w.node is self and w.group == group and not w.is_finished for w in self.workers)

    @work(
        thread=True,
        exclusive=True,
        group=POLL_GROUP,
        exit_on_error=False,
        description="Looking for changes in the database",
    )
    def read_token(self, known: Token | None) -> None:
        token = self.poll_token()
        if token != known:
            # Waits for the UI: the poll is not over before the read it asks for has begun,
            # so that the next tick cannot ask for the same read again.
            self.app.call_from_thread(self.token_moved, token)
        else:
            self.nothing_changed()

    def poll_token(self) -> Token:
        """Runs in the poll's thread: the token whose move reads the screen again (the
        database's, by default; a screen showing one thing may narrow it to that thing)."""
        return database_token(self.app.workspace.database)

    def token_moved(self, token: Token) -> None:
        self.live_token = token
        self.changed()

    def changed(self) -> None:
        """Read the screen again (each screen has its `load` worker)."""
        self.load()  # type: ignore[attr-defined]

    def nothing_changed(self) -> None:
        """Runs in the poll's thread when the token has not moved: nothing to do, by default."""

    @on(Worker.StateChanged)
    def read_again_after_a_failure(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.group != POLL_GROUP:
            self.live_token = None
