"""The live incident log: a window of the filtered log, refreshed within a second, triage keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input
from textual.worker import get_current_worker

from app.core.incidentlog import (
    ChangeToken,
    LogFilter,
    LogWindow,
    change_token,
    position_of,
    read_window,
)
from app.core.names import INCIDENT_STATE_FILTERS, SEVERITIES
from app.ui import display
from app.ui.screens.area import AreaScreen
from app.ui.screens.incident_detail import IncidentDetailScreen
from app.ui.screens.triage import TriageActions, TriageDone
from app.ui.widgets.empty_state import EmptyState
from app.ui.widgets.incident_table import IncidentTable
from app.ui.widgets.log_header import LogHeader

WINDOW = 100  # rows held by the table (a few screens); the rest stay in SQL
POLL_SECONDS = 0.5
STATE_CYCLE = ("open", "pending", "accepted", "resolved", "all")
assert set(STATE_CYCLE) == set(INCIDENT_STATE_FILTERS)


@dataclass
class WindowLoaded(Message):
    window: LogWindow
    cursor_id: int | None
    cursor_index: int
    serve: str


def next_in(cycle: tuple, current) -> object:
    return cycle[(cycle.index(current) + 1) % len(cycle)] if current in cycle else cycle[0]


class IncidentsScreen(TriageActions, AreaScreen):
    AREA_TITLE = "Incidents"
    AUTO_FOCUS = "#incident-log"  # never the hidden filter: `q` typed there would not quit
    DEFAULT_CSS = """
    IncidentsScreen #log-filter { display: none; height: 3; }
    IncidentsScreen.-filtering #log-filter { display: block; }
    IncidentsScreen IncidentTable { height: 1fr; }
    IncidentsScreen EmptyState { display: none; }
    IncidentsScreen.-empty EmptyState { display: block; }
    IncidentsScreen.-empty IncidentTable { display: none; }
    """
    BINDINGS = [
        Binding("enter", "open_detail", "Detail", id="log.detail"),
        Binding("a", "triage('accept')", "Accept", id="log.accept"),
        Binding("r", "triage('resolve')", "Resolve", id="log.resolve"),
        Binding("o", "triage('reopen')", "Reopen", id="log.reopen"),
        Binding("space", "mark", "Mark", id="log.mark"),
        Binding("slash", "filter_text", "Filter", id="log.filter"),
        Binding("s", "cycle_state", "State", id="log.state"),
        Binding("v", "cycle_severity", "Severity", id="log.severity"),
        Binding("S", "cycle_source", "Source", id="log.source"),
        Binding("n", "seen", "Seen all", id="log.seen"),
        Binding("escape", "clear", "Clear", id="log.clear"),
    ]

    def compose_body(self) -> ComposeResult:
        yield LogHeader(id="log-header")
        yield Input(
            placeholder="filter: title, key or source (enter: back to the log)", id="log-filter"
        )
        yield IncidentTable(id="incident-log")
        yield EmptyState(
            "No incidents yet",
            "Alert mail sent to an alert source's address opens incidents here, live, within "
            "a second. Press 2 for the sources and their addresses; `mailsiren config import` "
            "loads them from a file. Press ? for every key.",
        )

    def on_mount(self) -> None:
        super().on_mount()
        self.log_filter = LogFilter()
        self.window: LogWindow | None = None
        self.seen_at = display.now()  # what changes after this is marked new
        self.looked: set[int] = set()  # rows the cursor has rested on since
        self.marked: set[int] = set()
        self._serve = ""
        self.table.focus()
        self.load(offset=0, cursor_index=0)
        self.set_interval(POLL_SECONDS, self.check_for_changes)

    def on_resize(self) -> None:
        if self.table.fit_title(self.app.size.width) and self.window is not None:
            self.reload_in_place()

    @property
    def table(self) -> IncidentTable:
        return self.query_one(IncidentTable)

    # Reading, always in a thread worker that posts WindowLoaded

    def load(self, *, offset: int, cursor_index: int, cursor_id: int | None = None) -> None:
        self.read_window_worker(self.log_filter, offset, cursor_id, cursor_index, self.seen_at)

    @work(thread=True, exclusive=True, group="log-read", exit_on_error=False)
    def read_window_worker(
        self,
        log_filter: LogFilter,
        offset: int,
        cursor_id: int | None,
        cursor_index: int,
        seen_at: datetime,
    ) -> None:
        database = self.app.workspace.database
        window = read_window(database, log_filter, offset=offset, limit=WINDOW, seen_at=seen_at)
        if cursor_id is not None and all(row.id != cursor_id for row in window.rows):
            # The incident the cursor was on moved out of the window (newer ones arrived):
            # follow it, keeping it at the same height on screen.
            position = position_of(database, log_filter, cursor_id)
            if position is not None:
                start = max(0, position - cursor_index)
                window = read_window(
                    database, log_filter, offset=start, limit=WINDOW, seen_at=seen_at
                )
        if not get_current_worker().is_cancelled:
            self.post_message(
                WindowLoaded(window, cursor_id, cursor_index, self.app.serve_status())
            )

    @work(thread=True, exclusive=True, group="log-poll", exit_on_error=False)
    def poll_worker(self, known_token: ChangeToken) -> None:
        if change_token(self.app.workspace.database) != known_token:
            self.app.call_from_thread(self.reload_in_place)
        else:
            self.app.call_from_thread(self._show_serve_status, self.app.serve_status())

    def check_for_changes(self) -> None:
        if self.window is not None and not self.workers_busy("log-read", "log-poll"):
            self.poll_worker(self.window.token)

    def workers_busy(self, *groups: str) -> bool:
        return any(worker.group in groups and not worker.is_finished for worker in self.workers)

    def reload_in_place(self) -> None:
        table = self.table
        offset = self.window.offset if self.window else 0
        self.load(offset=offset, cursor_index=table.cursor_row, cursor_id=table.selected_id)

    def _show_serve_status(self, serve: str) -> None:
        if self.window is not None:
            self._serve = serve
            self._paint_header()

    def on_window_loaded(self, message: WindowLoaded) -> None:
        self.window = message.window
        self._serve = message.serve
        self.table.show(
            message.window.rows,
            offset=message.window.offset,
            total=message.window.total,
            new_since=self.seen_at,
            looked=self.looked,
            marked=self.marked,
            cursor_id=message.cursor_id,
            cursor_index=message.cursor_index,
        )
        self.set_class(
            message.window.total == 0 and not any(message.window.counts.values()), "-empty"
        )
        self._paint_header()

    def _paint_header(self) -> None:
        if self.window is not None:
            self.query_one(LogHeader).show(
                self.window, self.log_filter, self.table.row_count, self._serve
            )

    # Moving beyond the window

    @on(IncidentTable.EdgeReached)
    def page(self, message: IncidentTable.EdgeReached) -> None:
        table = self.table
        step = WINDOW // 2
        if message.step > 0:
            self.load(offset=table.window_offset + step, cursor_index=table.cursor_row + 1 - step)
        else:
            offset = max(0, table.window_offset - step)
            self.load(
                offset=offset, cursor_index=table.cursor_row - 1 + table.window_offset - offset
            )

    @on(IncidentTable.EndRequested)
    def jump(self, message: IncidentTable.EndRequested) -> None:
        if message.last:
            self.load(offset=max(0, self.table.total - WINDOW), cursor_index=WINDOW)
        else:
            self.load(offset=0, cursor_index=0)

    @on(IncidentTable.RowHighlighted)
    def looked_at(self, message: IncidentTable.RowHighlighted) -> None:
        if message.row_key.value is not None:
            self.looked.add(int(message.row_key.value))

    # Filters

    def apply_filter(self, **changes) -> None:
        self.log_filter = self.log_filter.with_changes(**changes)
        self.load(offset=0, cursor_index=0, cursor_id=self.table.selected_id)

    def action_cycle_state(self) -> None:
        self.apply_filter(state=next_in(STATE_CYCLE, self.log_filter.state))

    def action_cycle_severity(self) -> None:
        self.apply_filter(severity=next_in((None, *SEVERITIES), self.log_filter.severity))

    def action_cycle_source(self) -> None:
        sources = self.window.sources if self.window else ()
        self.apply_filter(source=next_in((None, *sources), self.log_filter.source))

    def action_filter_text(self) -> None:
        self.add_class("-filtering")
        self.query_one("#log-filter", Input).focus()

    @on(Input.Changed, "#log-filter")
    def filter_typed(self, event: Input.Changed) -> None:
        self.apply_filter(text=event.value)

    @on(Input.Submitted, "#log-filter")
    def filter_done(self) -> None:
        self.table.focus()

    def action_clear(self) -> None:
        """esc: close the text filter first; then clear marks and the other filters."""
        field = self.query_one("#log-filter", Input)
        if self.has_class("-filtering"):
            self.remove_class("-filtering")
            with self.prevent(Input.Changed):
                field.value = ""
            self.table.focus()
            self.apply_filter(text="")
        elif self.marked or self.log_filter != LogFilter():
            self.marked.clear()
            self.apply_filter(state="open", source=None, severity=None, text="")

    def action_seen(self) -> None:
        self.seen_at = display.now()
        self.looked.clear()
        self.reload_in_place()

    # Triage

    def action_mark(self) -> None:
        incident_id = self.table.selected_id
        if incident_id is None:
            return
        self.marked.symmetric_difference_update({incident_id})
        self.table.action_cursor_down()
        self.reload_in_place()

    def action_open_detail(self) -> None:
        if self.table.selected_id is not None:
            self.app.push_screen(IncidentDetailScreen(self.table.selected_id))

    @on(IncidentTable.RowSelected)
    def row_chosen(self) -> None:
        self.action_open_detail()

    def triage_targets(self) -> list[int]:
        if self.marked:
            return sorted(self.marked)
        return [] if self.table.selected_id is None else [self.table.selected_id]

    def on_triage_done(self, message: TriageDone) -> None:
        self.notify(
            message.text, severity="error" if message.failed else "information", markup=False
        )
        if not message.failed:
            self.marked.clear()
        self.reload_in_place()
