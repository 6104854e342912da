"""A screen's worker that fails says why on screen, instead of leaving a key press unanswered."""

from __future__ import annotations

import time

from textual.worker import Worker, WorkerState

from app.errors import MailsirenError
from app.problems import environment_problem

NOTICE_SECONDS = 30  # one notice per cause in this time: a poll failing twice a second is one


class WorkerFailures:
    """Mixed into every screen that runs workers: their failures become an error notice."""

    _last_failure: tuple[str, float] = ("", 0.0)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR:
            return
        app = self.app  # type: ignore[attr-defined]
        error = event.worker.error
        title = error.title if isinstance(error, MailsirenError) else "Not done"
        said = environment_problem(error, app.workspace.settings.database_url)
        if said is None and isinstance(error, MailsirenError):  # told as it says
            said = str(error)
        if said is None:  # a bug: say what it is, so that it can be reported
            said = f"{type(error).__name__}: {error}. This is a bug in mailsiren; please report it."
        last_said, last_at = self._last_failure
        if said == last_said and time.monotonic() - last_at < NOTICE_SECONDS:
            return
        self._last_failure = (said, time.monotonic())
        app.notify(said, title=title, severity="error", markup=False, timeout=NOTICE_SECONDS)
