"""Accept, resolve, reopen, note and assign from any screen: permission message, y/n or a
form, a worker, a notice."""

from __future__ import annotations

from dataclasses import dataclass

from textual import work
from textual.message import Message

from app.core.incidents.views import IncidentView, assign_incident, change_state, note_incident
from app.core.users import user_names
from app.errors import MailsirenError
from app.ui.modals.assign_picker import NOBODY, AssignPickerModal
from app.ui.modals.confirm import ConfirmModal
from app.ui.modals.note_form import NoteFormModal
from app.ui.permissions import refused

PAST_TENSE = {"accept": "accepted", "resolve": "resolved", "reopen": "reopened"}


@dataclass
class TriageDone(Message):
    text: str
    failed: bool
    clears_marks: bool = True  # False: a note or an owner, for one incident, not the marked


@dataclass
class OwnersRead(Message):
    """The users an incident can be given to, read for the assign picker."""

    incident: IncidentView
    names: list[str]


class TriageActions:
    """Mixed into a Screen that says which incidents `triage_targets()` are, and which one a
    note or an owner is for (`incident_in_hand()`: the one under the cursor, never a mark)."""

    def triage_targets(self) -> list[int]:
        raise NotImplementedError

    def incident_in_hand(self) -> IncidentView | None:
        raise NotImplementedError

    def action_note(self) -> None:
        incident = self.incident_in_hand()
        if incident is None or refused(self, "triage", "write notes"):  # type: ignore[arg-type]
            return
        self.app.push_screen(  # type: ignore[attr-defined]
            NoteFormModal(incident.id, incident.title),
            lambda note: self.note_worker(incident.id, note) if note else None,
        )

    @work(thread=True, group="triage", exit_on_error=False)
    def note_worker(self, incident_id: int, note: str) -> None:
        workspace = self.app.workspace  # type: ignore[attr-defined]
        try:
            note_incident(workspace.database, workspace.user, incident_id, note)
        except MailsirenError as error:
            self.post_message(TriageDone(str(error), failed=True))  # type: ignore[attr-defined]
            return
        self.post_message(TriageDone(f"Note written on #{incident_id}", False, False))  # type: ignore[attr-defined]

    def action_assign(self) -> None:
        incident = self.incident_in_hand()
        if incident is None or refused(self, "triage", "assign incidents"):  # type: ignore[arg-type]
            return
        self.owners_worker(incident)

    @work(thread=True, group="triage", exit_on_error=False)
    def owners_worker(self, incident: IncidentView) -> None:
        names = user_names(self.app.workspace.database)  # type: ignore[attr-defined]
        self.post_message(OwnersRead(incident, names))  # type: ignore[attr-defined]

    def on_owners_read(self, message: OwnersRead) -> None:
        incident = message.incident
        self.app.push_screen(  # type: ignore[attr-defined]
            AssignPickerModal(incident.id, message.names, incident.assignee),
            lambda chosen: self.assign_worker(incident.id, chosen) if chosen is not None else None,
        )

    @work(thread=True, group="triage", exit_on_error=False)
    def assign_worker(self, incident_id: int, chosen: str) -> None:
        workspace = self.app.workspace  # type: ignore[attr-defined]
        assignee = None if chosen == NOBODY else chosen
        try:
            changed = assign_incident(workspace.database, workspace.user, incident_id, assignee)
        except MailsirenError as error:
            self.post_message(TriageDone(str(error), failed=True))  # type: ignore[attr-defined]
            return
        if not changed:
            said = f"#{incident_id} already has {f'owner {assignee}' if assignee else 'no owner'}"
        else:
            said = (
                f"#{incident_id} is assigned to {assignee}"
                if assignee
                else f"#{incident_id} has no owner now"
            )
        self.post_message(TriageDone(said, False, False))  # type: ignore[attr-defined]

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
