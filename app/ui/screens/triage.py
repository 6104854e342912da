"""Accept, resolve and reopen from any screen: permission message, y/n, a worker, a notice."""

from __future__ import annotations

from dataclasses import dataclass

from textual import work
from textual.message import Message

from app.core.incidents.views import change_state
from app.errors import MailsirenError
from app.ui.modals.confirm import ConfirmModal
from app.ui.permissions import refused

PAST_TENSE = {"accept": "accepted", "resolve": "resolved", "reopen": "reopened"}


@dataclass
class TriageDone(Message):
    text: str
    failed: bool


class TriageActions:
    """Mixed into a Screen that says which incidents `triage_targets()` are."""

    def triage_targets(self) -> list[int]:
        raise NotImplementedError

    def action_triage(self, action: str) -> None:
        if refused(self, "triage", f"{action} incidents"):  # type: ignore[arg-type]
            return
        targets = self.triage_targets()
        if not targets:
            return
        if len(targets) > 1 or action == "resolve":
            what = f"{len(targets)} incidents" if len(targets) > 1 else f"incident #{targets[0]}"
            question = f"{action.capitalize()} {what}? This is recorded with your name."
            self.app.push_screen(  # type: ignore[attr-defined]
                ConfirmModal(question, yes_label=action.capitalize()),
                lambda yes: self.triage_worker(action, targets) if yes else None,
            )
        else:
            self.triage_worker(action, targets)

    @work(thread=True, group="triage", exit_on_error=False)
    def triage_worker(self, action: str, targets: list[int]) -> None:
        workspace = self.app.workspace  # type: ignore[attr-defined]
        try:
            changed = change_state(workspace.database, workspace.user, action, targets)
        except MailsirenError as error:
            self.post_message(TriageDone(str(error), failed=True))  # type: ignore[attr-defined]
            return
        names = ", ".join(f"#{incident.id}" for incident in changed)
        done = TriageDone(f"{PAST_TENSE[action].capitalize()} {names}", failed=False)
        self.post_message(done)  # type: ignore[attr-defined]
