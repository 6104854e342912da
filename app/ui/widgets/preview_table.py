"""The preview: per sample mail, what the saved rules and the edited rules do, differences lit."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from app.core.preview import Preview, Verdict
from app.ui.display import OUTCOME_STYLE, short

# The verdicts first: they are what the operator came for; subject and file name after.
COLUMNS = (
    ("diff", "≠"),
    ("n", "#"),
    ("edited", "Edited rules"),
    ("saved", "Saved rules"),
    ("key", "Key"),
    ("subject", "Subject"),
    ("mail", "Mail"),
)


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

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def show(self, preview: Preview) -> None:
        cursor = self.cursor_row
        self.clear()
        for row in preview.rows:
            self.add_row(
                Text("≠", style="bold yellow") if row.differs else Text(""),
                Text(str(row.number)),
                verdict_text(row.edited, changed=row.differs),
                verdict_text(row.saved),
                short(row.edited.key if row.edited and row.edited.key else "", 24),
                short(row.sample.parsed.subject or "(no subject)", 60),
                short(row.sample.label, 32),
                key=str(row.number),
            )
        if preview.rows:
            self.move_cursor(row=max(0, min(cursor, len(preview.rows) - 1)))
