"""The preview: per sample mail, what the saved rules and the edited rules do, differences lit,
and the severity and title of the incident the mail lands in (under the edited rules). A
narrow table (the editor at 80 columns) keeps the mark, the edited verdict, the severity's
symbol and the subject; the saved verdict, the key and the title are in the selected mail's
pane."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from app.core.intake.preview import Preview, Verdict
from app.ui.display import OUTCOME_STYLE, severity_text, short

# The verdicts first: they are what the operator came for; subject and file name after.
COLUMNS = (
    ("diff", "≠"),
    ("n", "#"),
    ("edited", "Edited rules"),
    ("saved", "Saved rules"),
    ("severity", "Severity"),
    ("key", "Key"),
    ("title", "Title"),
    ("subject", "Subject"),
    ("mail", "Mail"),
)
COMPACT_COLUMNS = (("n", "#"), ("edited", "Edited"), ("severity", "S"), ("subject", "Subject"))
COMPACT_BELOW = 50  # cells of table (the editor at 80 columns gives it 42)
VERDICT_AT_MOST = 10  # cells of the edited verdict when compact; whole in the selected mail's pane
SUBJECT_AT_LEAST = 20  # cells: enough of a subject to recognise it


def severity_of(
    verdict: Verdict | None, *, symbol_only: bool = False, changed: bool = False
) -> Text:
    """The severity of the verdict's incident; a dim dash when the mail lands in none."""
    if verdict is None or verdict.severity is None:
        return Text("—", style="dim")
    text = severity_text(verdict.severity, symbol_only=symbol_only)
    if changed:
        text.stylize("reverse")
    return text


def title_of(verdict: Verdict | None, width: int) -> Text:
    """The incident's title: as the mail that opens it sets it, dim on the mails that join it
    (a joining mail never changes it)."""
    if verdict is None or verdict.title is None:
        return Text("—", style="dim")
    title = short(verdict.title, width)
    if verdict.outcome != "created":
        title.stylize("dim")
    return title


def verdict_text(verdict: Verdict | None, *, changed: bool = False) -> Text:
    if verdict is None:
        return Text("—", style="dim")
    text = Text(verdict.describe(), style=OUTCOME_STYLE.get(verdict.outcome, "dim"))
    if changed:
        text.stylize("reverse")
    return text


class PreviewTable(DataTable):
    DEFAULT_CSS = """
    PreviewTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="preview.down"),
        Binding("k", "cursor_up", "Up", show=False, id="preview.up"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.compact: bool | None = None
        self.preview: Preview | None = None

    def on_mount(self) -> None:
        self.set_columns()

    def on_resize(self) -> None:
        if self.set_columns() and self.preview is not None:
            self.show(self.preview)

    def set_columns(self) -> bool:
        """The columns for the width there is; True when they changed."""
        width = self.scrollable_content_region.width or self.size.width
        compact = 0 < width < COMPACT_BELOW
        if compact == self.compact:
            return False
        self.compact = compact
        self.clear(columns=True)
        for key, label in COMPACT_COLUMNS if compact else COLUMNS:
            self.add_column(label, key=key)
        return True

    def show(self, preview: Preview) -> None:
        self.preview = preview
        cursor = self.cursor_row
        self.clear()
        if self.compact:
            width = self.scrollable_content_region.width or self.size.width
            used = len(str(len(preview.rows))) + 1 + 2  # the mark and number, padded
            longest = max([6, *(len(verdict_text(r.edited).plain) for r in preview.rows)])
            used += min(VERDICT_AT_MOST, longest) + 2
            used += 1 + 2  # the severity's symbol
            room = max(SUBJECT_AT_LEAST, width - used - 2)
        for row in preview.rows:
            subject = row.sample.parsed.subject or "(no subject)"
            mark = Text("≠", style="bold yellow") if row.differs else Text(" ")
            edited = verdict_text(row.edited, changed=row.differs)
            saved_severity = row.saved.severity if row.saved else None
            edited_severity = row.edited.severity if row.edited else None
            other_severity = None not in (saved_severity, edited_severity) and (
                saved_severity != edited_severity
            )  # the same incident, another severity (a new outcome is lit already)
            if self.compact:
                edited.truncate(VERDICT_AT_MOST, overflow="ellipsis")
                severity = severity_of(row.edited, symbol_only=True, changed=other_severity)
                cells = (mark + Text(str(row.number)), edited, severity, short(subject, room))
            else:
                cells = (
                    mark, Text(str(row.number)), edited, verdict_text(row.saved),
                    severity_of(row.edited, changed=other_severity),
                    short(row.edited.key if row.edited and row.edited.key else "", 24),
                    title_of(row.edited, 40), short(subject, 60), short(row.sample.label, 32),
                )  # fmt: skip
            self.add_row(*cells, key=str(row.number))
        if preview.rows:
            self.move_cursor(row=max(0, min(cursor, len(preview.rows) - 1)))
