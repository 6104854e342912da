"""The incident log's table: a window of rows from SQL, asking for more at its edges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from app.core.incidentlog import IncidentView
from app.ui.display import age, parse_time, printable, severity_text, short, state_text

# (key, label, width); the title takes what the terminal has left.
COLUMNS = (
    ("mark", " ", 2),
    ("state", "State", 10),
    ("severity", "Severity", 9),
    ("title", "Title", 0),
    ("mails", "Mails", 5),
    ("age", "Age", 4),
    ("source", "Source", 12),
    ("key", "Key", 16),
    ("updated", "Updated", 7),
    ("accepted_by", "Accepted by", 11),
)
MIN_TITLE = 24
SHOWN_AFTER_TITLE = 5 + 4 + 12  # mails, age and source stay on screen at 80 columns
# Below this width state and severity show as their symbols alone (▲ ‼), leaving the title
# 17 more cells: at 80 columns a Nagios subject then shows its host and service. The log's
# header spells the state symbols out; the colours and the detail screen do the rest.
COMPACT_BELOW = 100
SHRINKING = ("state", "severity")
LABELS = {key: label for key, label, _width in COLUMNS}
WORDS_WIDTHS = {key: width for key, _label, width in COLUMNS if key in SHRINKING}
SYMBOL_WIDTHS = dict.fromkeys(SHRINKING, 1)


class IncidentTable(DataTable):
    """Rows are one window of the filtered log; `offset` is rows[0]'s place in the log."""

    BINDINGS = [
        Binding("j,down", "cursor_down", "Down", show=False, id="log.down"),
        Binding("k,up", "cursor_up", "Up", show=False, id="log.up"),
        Binding("g,home", "first", "First", show=False, id="log.first"),
        Binding("G,end", "last", "Last", show=False, id="log.last"),
    ]

    @dataclass
    class EdgeReached(Message):
        """The cursor wants to go past the window: `step` is -1 (newer) or +1 (older)."""

        step: int

    @dataclass
    class EndRequested(Message):
        last: bool  # True: the oldest row; False: the newest

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.window_offset = 0
        self.total = 0
        self.title_width = MIN_TITLE
        self.compact = False

    def on_mount(self) -> None:
        for key, label, column_width in COLUMNS:
            self.add_column(label, key=key, width=column_width or self.title_width)
        self.fit_title(self.app.size.width)

    @staticmethod
    def title_width_for(terminal_width: int) -> int:
        """Room for the title once state, severity, mails, age and source are shown."""
        widths = SYMBOL_WIDTHS if terminal_width < COMPACT_BELOW else WORDS_WIDTHS
        before = 2 + widths["state"] + widths["severity"]
        spare = terminal_width - before - SHOWN_AFTER_TITLE - 2 * len(COLUMNS[:7])
        return max(MIN_TITLE, spare)

    def fit_title(self, terminal_width: int) -> bool:
        """Fit the columns to a terminal width; True if the rows need redrawing."""
        compact = terminal_width < COMPACT_BELOW
        width = self.title_width_for(terminal_width)
        if (width, compact) == (self.title_width, self.compact):
            return False
        self.title_width, self.compact = width, compact
        self.columns["title"].width = width  # type: ignore[index]
        for key in SHRINKING:
            column = self.columns[key]  # type: ignore[index]
            column.width = (SYMBOL_WIDTHS if compact else WORDS_WIDTHS)[key]
            column.label = Text("" if compact else LABELS[key])
        return True

    def show(
        self,
        rows: tuple[IncidentView, ...],
        *,
        offset: int,
        total: int,
        new_since: datetime | None,
        looked: set[int],
        marked: set[int],
        cursor_id: int | None,
        cursor_index: int,
    ) -> None:
        """Replace the window; the cursor goes to `cursor_id` if shown, else `cursor_index`."""
        self.window_offset, self.total = offset, total
        self.clear()
        for row in rows:
            is_new = (
                new_since is not None
                and row.id not in looked
                and parse_time(row.updated_at) > new_since
            )
            mark = "✓" if row.id in marked else ("●" if is_new else "")
            self.add_row(
                Text(mark, style="bold magenta"),
                state_text(row.state, symbol_only=self.compact),
                severity_text(row.severity, symbol_only=self.compact),
                short(row.title, self.title_width),
                Text(str(row.mail_count), justify="right"),
                Text(age(row.created_at)),
                short(row.source, 12),
                short(row.key or "", 16),
                Text(age(row.updated_at)),
                Text(printable(row.accepted_by or row.resolved_by or "")),
                key=str(row.id),
            )
        ids = [row.id for row in rows]
        index = ids.index(cursor_id) if cursor_id in ids else cursor_index
        if rows:
            self.move_cursor(row=max(0, min(index, len(rows) - 1)), scroll=True)

    @property
    def selected_id(self) -> int | None:
        if not self.row_count:
            return None
        return int(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)

    def action_cursor_down(self) -> None:
        if (
            self.cursor_row >= self.row_count - 1
            and self.window_offset + self.row_count < self.total
        ):
            self.post_message(self.EdgeReached(+1))
        else:
            super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.cursor_row <= 0 and self.window_offset > 0:
            self.post_message(self.EdgeReached(-1))
        else:
            super().action_cursor_up()

    def action_first(self) -> None:
        self.post_message(self.EndRequested(last=False))

    def action_last(self) -> None:
        self.post_message(self.EndRequested(last=True))
