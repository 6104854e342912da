"""Write a note on an incident: what was found, what was done (several lines, at most 4,000)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static, TextArea

from app.core.incidents.lifecycle import NOTE_LIMIT, IncidentError, check_note
from app.ui.display import printable
from app.ui.modals.footed import FootedModal


class NoteFormModal(FootedModal[str | None]):
    DEFAULT_CSS = """
    NoteFormModal { align: center middle; }
    NoteFormModal > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 100%; padding: 1 2;
        border: thick $primary; background: $surface;
    }
    NoteFormModal TextArea { height: 8; }
    NoteFormModal #note-count { color: $text-muted; text-align: right; }
    NoteFormModal #note-count.-over { color: $error; text-style: bold; }
    NoteFormModal .error { color: $error; height: auto; }
    NoteFormModal .hint { color: $text-muted; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save note", id="note.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="note.cancel"),
    ]

    def __init__(self, incident_id: int, title: str) -> None:
        super().__init__()
        self.incident_id = incident_id
        self.incident_title = title

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = f"Note on #{self.incident_id}"
            yield Static(printable(self.incident_title), classes="hint", markup=False)
            yield TextArea(id="note-text", soft_wrap=True, show_line_numbers=False)
            yield Static(f"0 / {NOTE_LIMIT:,}", id="note-count")
            yield Static("", classes="error", markup=False)
            yield Static(
                "What you found and did: the next shift reads it, and every notification of "
                "the incident quotes the latest note. ctrl+s: save · escape: cancel",
                classes="hint",
                markup=False,
            )

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def on_text_area_changed(self, _event: TextArea.Changed) -> None:
        length = len(self.text().strip())
        count = self.query_one("#note-count", Static)
        count.update(f"{length:,} / {NOTE_LIMIT:,}")
        count.set_class(length > NOTE_LIMIT, "-over")
        self.query_one(".error", Static).update(
            f"At most {NOTE_LIMIT:,} characters: shorten it, or write two notes."
            if length > NOTE_LIMIT
            else ""
        )

    def text(self) -> str:
        return self.query_one(TextArea).text

    def action_save(self) -> None:
        try:
            note = check_note(self.text())
        except IncidentError as error:
            self.query_one(".error", Static).update(str(error).capitalize())
            return
        self.dismiss(note)

    def action_cancel(self) -> None:
        self.dismiss(None)
