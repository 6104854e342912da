"""The incident log's table: a window of rows from SQL whose cursor is an incident, not a row.

The operator's moves (j/k, page keys, g/G, a click) are never lost: a move that goes past the
window is kept in `pending` until the screen has read the next window, then applied from the
incident the cursor is on. A key that acts on the incident under the cursor (enter, a, r…)
pressed meanwhile waits in `after_moves` and runs once the moves have landed. A rebuild puts
the cursor back on that incident, by id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable

from app.core.incidents.log import IncidentView
from app.ui.display import age, printable, severity_text, short, state_text

# (key, label, width); the title takes what the terminal has left.
COLUMNS = (
    ("mark", " ", 2),
    ("state", "State", 10),
    ("severity", "Severity", 9),
    ("title", "Title", 0),
    ("mails", "Mails", 5),
    ("age", "Age", 4),
    ("source", "Source", 12),
    ("owner", "Owner", 10),  # §14: on screen from COMPACT_BELOW columns when a row has one
    ("key", "Key", 16),
    ("updated", "Updated", 7),
    ("accepted_by", "Accepted by", 11),
)
MIN_TITLE = 24
OWNER_WIDTH = 10
SHOWN_AFTER_TITLE = 5 + 4 + 12  # mails, age and source stay on screen at 80 columns
# Below this width state and severity show as their symbols alone (▲ ‼), leaving the title
# 17 more cells: at 80 columns a Nagios subject then shows its host and service. The log's
# header spells the state symbols out; the colours and the detail screen do the rest.
COMPACT_BELOW = 100
SHRINKING = ("state", "severity")
LABELS = {key: label for key, label, _width in COLUMNS}
WORDS_WIDTHS = {key: width for key, _label, width in COLUMNS if key in SHRINKING}
SYMBOL_WIDTHS = dict.fromkeys(SHRINKING, 1)
# Marked for a bulk action, and new since the operator last looked: neither may look like a
# state's symbol (resolved is ✓).
MARKED = Text("■", style="bold cyan")
NEW = Text("●", style="bold magenta")


class IncidentTable(DataTable):
    """Rows are one window of the filtered log; `window_offset` is rows[0]'s place in it."""

    BINDINGS = [
        # On the table, not the screen: DataTable's own (hidden) enter would hide it from
        # the footer. The screen opens the detail of the incident under the cursor.
        Binding(
            "enter",
            "screen.open_detail",
            "Detail",
            id="log.detail",
            tooltip="Open the incident under the cursor: timeline, notifications, mails",
        ),
        Binding("j,down", "cursor_down", "Down", show=False, id="log.down"),
        Binding("k,up", "cursor_up", "Up", show=False, id="log.up"),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False, id="log.page-down"),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False, id="log.page-up"),
        Binding("g,home", "first", "First", show=False, id="log.first"),
        Binding("G,end", "last", "Last", show=False, id="log.last"),
    ]

    @dataclass
    class WindowWanted(Message):
        """The cursor must go where this window does not reach: read one around the
        incident under the cursor (`jump` None), or the log's first or last rows."""

        jump: str | None = None  # "first" or "last"

    @dataclass
    class Moved(Message):
        """The operator's cursor came to rest on an incident (not a rebuild's doing)."""

        incident_id: int

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.window_offset = 0
        self.total = 0
        self.title_width = MIN_TITLE
        self.compact = False
        self.pending = 0  # rows still to move once the next window is read
        self.jump: str | None = None  # a g or G waiting for its window
        self.views: dict[int, IncidentView] = {}
        self._placing = False  # True while a rebuild moves the cursor
        self.with_owner = False  # some row of the window has an owner: its column is shown
        self.after_moves: list[Callable[[], None]] = []  # keys waiting for the cursor to land

    def on_mount(self) -> None:
        for key, label, column_width in COLUMNS:
            self.add_column(label, key=key, width=column_width or self.title_width)
        self.fit_title(self.app.size.width)

    @staticmethod
    def title_width_for(terminal_width: int, with_owner: bool = False) -> int:
        """Room for the title once state, severity, mails, age and source are shown, and the
        owner when some row of the window has one and the terminal is wide enough."""
        widths = SYMBOL_WIDTHS if terminal_width < COMPACT_BELOW else WORDS_WIDTHS
        before = 2 + widths["state"] + widths["severity"]
        shown = 8 if with_owner and terminal_width >= COMPACT_BELOW else 7
        after = SHOWN_AFTER_TITLE + (0 if shown == 7 else OWNER_WIDTH)
        spare = terminal_width - before - after - 2 * shown
        return max(MIN_TITLE, spare)

    def fit_title(self, terminal_width: int) -> bool:
        """Fit the columns to a terminal width; True if the rows need redrawing."""
        compact = terminal_width < COMPACT_BELOW
        width = self.title_width_for(terminal_width, self.with_owner)
        if (width, compact) == (self.title_width, self.compact):
            return False
        self.title_width, self.compact = width, compact
        self.columns["title"].width = width  # type: ignore[index]
        for key in SHRINKING:
            column = self.columns[key]  # type: ignore[index]
            column.width = (SYMBOL_WIDTHS if compact else WORDS_WIDTHS)[key]
            column.label = Text("" if compact else LABELS[key])
        return True

    # Showing a window

    def show(
        self,
        rows: tuple[IncidentView, ...],
        *,
        offset: int,
        total: int,
        is_new,
        marked: set[int],
        cursor_id: int | None,
        cursor_index: int,
        land: str | None = None,
    ) -> None:
        """Replace the window; the cursor goes to `cursor_id` if shown, else to the row at
        `cursor_index`, keeping its height on screen; `land` ("first" or "last") is the
        operator's g or G this window was read for; then the moves still pending apply."""
        height_on_screen = self.cursor_row - round(self.scroll_y)
        self.window_offset, self.total = offset, total
        self.views = {row.id: row for row in rows}
        with_owner = any(row.assignee for row in rows)
        if with_owner != self.with_owner:  # room for Owner only when someone owns one
            self.with_owner = with_owner
            self.fit_title(self.app.size.width)
        self._placing = True
        try:
            self.clear()
            for row in rows:
                mark = MARKED if row.id in marked else (NEW if is_new(row) else Text(""))
                self.add_row(*self._cells(row, mark), key=str(row.id))
            ids = [row.id for row in rows]
            index = ids.index(cursor_id) if cursor_id in ids else cursor_index
            if rows:
                index = max(0, min(index, len(rows) - 1))
                self.move_cursor(row=index, scroll=False)
                # Once the new rows are measured, the cursor's row keeps its height on screen.
                y = max(0, index - max(0, height_on_screen))
                self.call_after_refresh(self.scroll_to, y=y, animate=False)
        finally:
            self._placing = False
        if land is not None:
            self.jump = None
            self._land(0 if land == "first" else len(rows) - 1)
        if self.pending:
            steps, self.pending = self.pending, 0
            self.step(steps)
        if self.after_moves and not self.waiting:
            actions, self.after_moves = self.after_moves, []
            for action in actions:
                action()

    def _cells(self, row: IncidentView, mark: Text) -> tuple[Text, ...]:
        return (
            mark,
            state_text(row.state, symbol_only=self.compact),
            severity_text(row.severity, symbol_only=self.compact),
            titled(row, self.title_width),
            Text(f"{row.mail_count:,}", justify="right"),
            Text(age(row.created_at)),
            short(row.source, 12),
            short(row.assignee or "", OWNER_WIDTH),
            short(row.key or "", 16),
            Text(age(row.updated_at)),
            Text(printable(row.accepted_by or row.resolved_by or "")),
        )

    def refresh_ages(self) -> None:
        """Redraw the Age and Updated cells from the rows held, with no read."""
        for incident_id, row in self.views.items():
            key = str(incident_id)
            for column, iso in (("age", row.created_at), ("updated", row.updated_at)):
                text = age(iso)
                if str(self.get_cell(key, column)) != text:
                    self.update_cell(key, column, Text(text))

    def views_in_order(self) -> list[int]:
        """The ids of the rows held, top to bottom."""
        return [int(row.key.value) for row in self.ordered_rows]  # type: ignore[arg-type]

    def is_marked_new(self, incident_id: int) -> bool:
        return str(self.get_cell(str(incident_id), "mark")) == str(NEW)

    def unmark_new(self, incident_id: int) -> None:
        if self.is_marked_new(incident_id):
            self.update_cell(str(incident_id), "mark", Text(""))

    # The cursor

    @property
    def selected_id(self) -> int | None:
        if not self.row_count:
            return None
        return int(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)

    @property
    def waiting(self) -> bool:
        """True while moves wait for a window to be read."""
        return bool(self.pending) or self.jump is not None

    def when_landed(self, action: Callable[[], None]) -> bool:
        """True if the cursor is still on its way to a window being read: `action` then runs
        once it has landed, on the incident the operator's moves aimed at."""
        if not self.waiting:
            return False
        self.after_moves.append(action)
        return True

    def step(self, rows: int) -> None:
        """Move `rows` down (or up, if negative) from the incident under the cursor."""
        if self.waiting:
            self.pending += rows
            return
        target = self.cursor_row + rows
        if 0 <= target < self.row_count:
            self._land(target)
            return
        older_beyond = self.window_offset + self.row_count < self.total
        if target >= self.row_count and older_beyond:
            self._land(self.row_count - 1)
            self.pending = target - (self.row_count - 1)
            self.post_message(self.WindowWanted())
        elif target < 0 and self.window_offset > 0:
            self._land(0)
            self.pending = target
            self.post_message(self.WindowWanted())
        elif self.row_count:
            self._land(max(0, min(target, self.row_count - 1)))

    def _land(self, index: int) -> None:
        if 0 <= index < self.row_count and index != self.cursor_row:
            self.move_cursor(row=index, scroll=True)
        if self.row_count and not self._placing:
            self.post_message(self.Moved(self.selected_id))  # type: ignore[arg-type]

    def watch_cursor_coordinate(self, old: Coordinate, new: Coordinate) -> None:
        super().watch_cursor_coordinate(old, new)
        # A click moves the cursor without a key: it is the operator's move too.
        if self._clicking and not self._placing and self.row_count and new.row != old.row:
            self.post_message(self.Moved(self.selected_id))  # type: ignore[arg-type]

    _clicking = False

    async def _on_click(self, event: events.Click) -> None:
        self._clicking = True
        try:
            await super()._on_click(event)
        finally:
            self._clicking = False

    def action_cursor_down(self) -> None:
        self.step(+1)

    def action_cursor_up(self) -> None:
        self.step(-1)

    def action_page_down(self) -> None:
        self.step(max(1, self.scrollable_content_region.height - 1))

    def action_page_up(self) -> None:
        self.step(-max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self.pending, self.jump = 0, "first"
        self.post_message(self.WindowWanted(jump="first"))

    def action_last(self) -> None:
        self.pending, self.jump = 0, "last"
        self.post_message(self.WindowWanted(jump="last"))


SILENCED = Text("⊘ ", style="bold yellow")  # a silence holds its pages (§10)
HEARTBEAT = Text("♥ ", style="bold red")  # opened because a source went quiet (§11)


def titled(row: IncidentView, width: int) -> Text:
    """The title, after ⊘ when a silence holds the incident and ♥ for a heartbeat's."""
    marks = Text()
    if row.silenced_by is not None:
        marks.append_text(SILENCED)
    if row.key == "heartbeat":
        marks.append_text(HEARTBEAT)
    if not marks:
        return short(row.title, width)
    return marks + short(row.title, max(1, width - len(marks)))
