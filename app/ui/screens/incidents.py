"""The live incident log: a window of the filtered log, refreshed within a second, triage keys."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input, Static
from textual.worker import Worker, get_current_worker

from app.core.incidents.log import (
    LOG_ORDERS,
    Anchor,
    IncidentView,
    LogFilter,
    LogWindow,
    read_window,
)
from app.core.names import INCIDENT_STATE_FILTERS, SEVERITIES
from app.ui import display
from app.ui.display import parse_time, printable, short
from app.ui.screens.area import AreaScreen
from app.ui.screens.incident_detail import IncidentDetailScreen
from app.ui.screens.live import LiveScreen
from app.ui.screens.triage import TriageActions, TriageDone
from app.ui.widgets.empty_state import EmptyState
from app.ui.widgets.incident_table import IncidentTable
from app.ui.widgets.log_header import LogHeader

WINDOW = 100  # rows held by the table (a few screens); the rest stay in SQL
AGE_SECONDS = 2.0  # ages tick without a read
STATE_CYCLE = ("open", "pending", "accepted", "resolved", "all")
assert set(STATE_CYCLE) == set(INCIDENT_STATE_FILTERS)


@dataclass
class WindowLoaded(Message):
    window: LogWindow
    anchor_id: int | None  # the incident the read was placed around
    anchor_index: int  # its row in the window asked for (or the row to fall back on)
    jump: str | None
    serial: int  # which load this is: only the newest load's window is shown
    serve: str


@dataclass(frozen=True)
class WindowRequest:
    anchor_id: int | None
    anchor_index: int
    offset: int  # where to read if there is no anchor (or it left the filter)
    jump: str | None
    serial: int


def next_in(cycle: tuple, current) -> object:
    return cycle[(cycle.index(current) + 1) % len(cycle)] if current in cycle else cycle[0]


class IncidentsScreen(TriageActions, LiveScreen, AreaScreen):
    AREA_TITLE = "Incidents"
    POLL_SECONDS = 0.5
    AUTO_FOCUS = "#incident-log"  # never the hidden filter: `q` typed there would not quit
    DEFAULT_CSS = """
    IncidentsScreen #log-filter { display: none; height: 3; }
    IncidentsScreen.-filtering #log-filter { display: block; }
    IncidentsScreen IncidentTable { height: 1fr; }
    IncidentsScreen EmptyState { display: none; }
    IncidentsScreen.-empty EmptyState { display: block; }
    IncidentsScreen.-empty IncidentTable { display: none; }
    IncidentsScreen #no-match { display: none; height: auto; padding: 1 2; color: $warning; }
    IncidentsScreen.-no-match #no-match { display: block; }
    """
    BINDINGS = [
        Binding(
            "a",
            "triage('accept')",
            "Accept",
            id="log.accept",
            tooltip="Accept the incident under the cursor (or the marked ones): escalation stops",
        ),
        Binding(
            "r",
            "triage('resolve')",
            "Resolve",
            id="log.resolve",
            tooltip="Resolve the incident under the cursor (or the marked ones), after a question",
        ),
        Binding(
            "o", "triage('reopen')", "Reopen", id="log.reopen", tooltip="Reopen a resolved incident"
        ),
        Binding(
            "space",
            "mark",
            "Mark",
            id="log.mark",
            tooltip="Mark the incident for a bulk action on every marked one",
        ),
        Binding(
            "slash",
            "filter_text",
            "Filter",
            id="log.filter",
            tooltip="Filter the log by text in title, key or source",
        ),
        Binding(
            "s",
            "cycle_state",
            "State",
            id="log.state",
            tooltip="Filter by state: open, pending, accepted, resolved, all",
        ),
        Binding(
            "v",
            "cycle_severity",
            "Severity",
            id="log.severity",
            tooltip="Filter by severity: alert, warning, info",
        ),
        Binding(
            "S",
            "cycle_source",
            "Source",
            id="log.source",
            tooltip="Filter by source: each alert source in turn",
        ),
        Binding(
            "t",
            "cycle_order",
            "Order",
            id="log.order",
            tooltip="Sort the log: newest first, most recently updated, most severe first",
        ),
        Binding(
            "f",
            "toggle_follow",
            "Follow newest",
            id="log.follow",
            tooltip="Follow the newest incident as incidents arrive",
        ),
        Binding(
            "n",
            "seen",
            "Seen all",
            id="log.seen",
            tooltip="Mark everything seen (clears the ● marks)",
        ),
        Binding(
            "c",
            "copy('id')",
            "Copy id",
            id="log.copy-id",
            tooltip="Copy the incident's id to the clipboard (OSC 52)",
        ),
        Binding(
            "C",
            "copy('title')",
            "Copy title",
            id="log.copy-title",
            tooltip="Copy the incident's title to the clipboard (OSC 52)",
        ),
        Binding(
            "z",
            "silences",
            "Silences",
            id="log.silences",
            tooltip="The silences (maintenance windows): list, add one for all, end one",
        ),
        Binding(
            "N",
            "note",
            "Note",
            id="log.note",
            tooltip="Write a note on the incident under the cursor: what you found, what you did",
        ),
        Binding(
            "A",
            "assign",
            "Assign",
            id="log.assign",
            tooltip="Give the incident under the cursor an owner (a user), or none",
        ),
        Binding(
            "escape",
            "clear",
            "Clear",
            id="log.clear",
            tooltip="Close the text filter; again: clear the filters and marks",
        ),
    ]

    def compose_body(self) -> ComposeResult:
        yield LogHeader(id="log-header")
        yield Input(
            placeholder="filter: title, key or source (enter: back to the log)", id="log-filter"
        )
        yield Static(id="no-match", markup=False)
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
        self.looked: dict[int, datetime] = {}  # incidents the cursor rested on, and when
        self.marked: set[int] = set()
        self.following = False  # the cursor stays on the newest incident
        self.newest_pending = 0  # the bell rings for a pending incident above this id
        self._serve = ""
        self._serial = 0
        self.table.focus()
        self.load()
        self.set_interval(AGE_SECONDS, self.table.refresh_ages)

    def on_resize(self) -> None:
        if self.table.fit_title(self.app.size.width) and self.window is not None:
            self.reload_in_place()

    @property
    def table(self) -> IncidentTable:
        return self.query_one(IncidentTable)

    # Reading, always in a thread worker that posts WindowLoaded

    def load(
        self, *, anchor_id: int | None = None, anchor_index: int = 0, jump: str | None = None
    ) -> None:
        """Read the window around `anchor_id` (at row `anchor_index`), or the log's first or
        last rows; a newer load makes the windows of older ones be dropped."""
        self._serial += 1
        offset = self.window.offset if self.window else 0
        self.read_window_worker(
            self.log_filter,
            WindowRequest(anchor_id, anchor_index, offset, jump, self._serial),
            self.seen_at,
            dict(self.looked),
            self.window,
        )

    @work(thread=True, exclusive=True, group="log-read", exit_on_error=False)
    def read_window_worker(
        self,
        log_filter: LogFilter,
        request: WindowRequest,
        seen_at: datetime,
        looked: dict[int, datetime],
        previous: LogWindow | None = None,
    ) -> None:
        offset = {"first": 0, "last": sys.maxsize}.get(request.jump or "", request.offset)
        anchor = None
        if request.jump is None and request.anchor_id is not None:
            # The incident under the cursor decides where the window is, however many
            # incidents arrived above it since the last read (read in the window's snapshot).
            anchor = Anchor(request.anchor_id, request.anchor_index)
        window = read_window(
            self.app.workspace.database, log_filter, offset=offset, limit=WINDOW, anchor=anchor,
            seen_at=seen_at, looked=looked, previous=previous,
        )  # fmt: skip
        if not get_current_worker().is_cancelled:
            self.post_message(
                WindowLoaded(
                    window,
                    request.anchor_id,
                    request.anchor_index,
                    request.jump,
                    request.serial,
                    self.app.serve_status(),
                )
            )

    # Live: the window's token against the database's, twice a second

    def polls_now(self) -> bool:
        """Hidden under the detail or another area too (a new pending incident rings the
        bell); never while a read is on its way (a storm would pile reads up)."""
        return self.window is not None and not self.busy("log-read")

    def changed(self) -> None:
        self.reload_in_place()

    def nothing_changed(self) -> None:
        """In the poll's thread: the log is as shown, but serve may have started or stopped."""
        self.app.call_from_thread(self._show_serve_status, self.app.serve_status())

    def reload_in_place(self) -> None:
        """Read again around the incident under the cursor, at its row in the window."""
        table = self.table
        if self.following:
            self.load(jump="first")
        else:
            self.load(anchor_id=table.selected_id, anchor_index=table.cursor_row)

    def _show_serve_status(self, serve: str) -> None:
        if self.window is not None:
            self._serve = serve
            self._paint_header()

    def on_window_loaded(self, message: WindowLoaded) -> None:
        if message.serial != self._serial:
            return  # a newer read is on its way: this window may not hold the cursor
        table = self.table
        if table.jump is not None and message.jump != table.jump:
            return  # a g or G is waiting for its own window
        window = message.window
        shown = {row.id for row in window.rows}
        current = table.selected_id
        follows = message.jump == "first" and table.jump is None  # follow mode's reload
        if follows and not self.following:
            follows = False  # the operator moved off the top while it was read
        if (
            (message.jump is None or (table.jump is None and not follows))
            and current is not None
            and current != message.anchor_id
            and current not in shown
        ):
            # The operator moved while this window was read, to an incident it lacks.
            self.reload_in_place()
            return
        first_read = self.window is None
        self.window, self.live_token = window, window.token
        self._serve = message.serve
        table.show(
            window.rows,
            offset=window.offset,
            total=window.total,
            is_new=self.is_new,
            marked=self.marked,
            cursor_id=None if follows else (current if current in shown else message.anchor_id),
            cursor_index=0 if follows else message.anchor_index,
            land=message.jump if message.jump == table.jump else None,
        )
        self.set_class(window.log_is_empty, "-empty")
        if not window.log_is_empty and self.focused is None:
            table.focus()  # it was hidden (no incident yet), so nothing had the keys
        self.set_class(window.total == 0 and not window.log_is_empty, "-no-match")
        if window.total == 0 and not window.log_is_empty:
            self.query_one("#no-match", Static).update(
                f"No incident matches {printable(self.log_filter.describe())}: "
                "esc clears the filter."
            )
        if not first_read and window.newest_pending > self.newest_pending:
            self._new_pending_arrived()
        self.newest_pending = max(self.newest_pending, window.newest_pending)
        self._paint_header()

    def _new_pending_arrived(self) -> None:
        if self.app.workspace.settings.bell:  # off by default: `bell = true` in config.toml
            self.app.bell()

    def is_new(self, row: IncidentView) -> bool:
        """Changed since the operator's `seen` mark and not looked at since it changed."""
        updated = parse_time(row.updated_at)
        looked = self.looked.get(row.id)
        return updated > self.seen_at and (looked is None or updated > looked)

    def _paint_header(self) -> None:
        if self.window is not None:
            self.query_one(LogHeader).show(
                self.window,
                self.log_filter,
                self.table.row_count,
                self._serve,
                following=self.following,
            )

    # Moving beyond the window

    @on(IncidentTable.WindowWanted)
    def window_wanted(self, message: IncidentTable.WindowWanted) -> None:
        if message.jump is not None:
            self.load(jump=message.jump)
        else:  # around the incident under the cursor, with room on both sides
            self.load(anchor_id=self.table.selected_id, anchor_index=WINDOW // 2)

    @on(IncidentTable.Moved)
    def looked_at(self, message: IncidentTable.Moved) -> None:
        self.looked[message.incident_id] = display.now()
        table = self.table
        header_changed = False
        if table.is_marked_new(message.incident_id):
            table.unmark_new(message.incident_id)
            if self.window is not None and self.window.changed_since:
                self.window = replace(self.window, changed_since=self.window.changed_since - 1)
                header_changed = True
        if self.following and table.cursor_row != 0:
            self.following, header_changed = False, True
        if header_changed:  # a repaint costs a layout: only when the header says otherwise
            self._paint_header()

    # Filters

    def apply_filter(self, **changes) -> None:
        """Narrow the log; the cursor stays on its incident if the filter keeps it."""
        self.log_filter = self.log_filter.with_changes(**changes)
        self.table.pending, self.table.jump = 0, None
        self.load(anchor_id=self.table.selected_id, anchor_index=0)

    def action_cycle_order(self) -> None:
        order = next_in(tuple(LOG_ORDERS), self.log_filter.order)
        self.apply_filter(order=order)
        self.notify(f"Order: {LOG_ORDERS[order]}")  # type: ignore[index]

    def action_toggle_follow(self) -> None:
        self.following = not self.following
        if self.following:
            self.table.pending = 0
            self.load(jump="first")
        self._paint_header()

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
        """A burst of keys makes one read more, of the last text: while a read is on its
        way, a key only notes the text (that read's window is then dropped), and the text
        is read when it ends."""
        if self.busy("log-read"):
            self.log_filter = self.log_filter.with_changes(text=event.value)
            self.table.pending, self.table.jump = 0, None
            self._serial += 1  # the read on its way is for an older text
            self._typed_waiting = True
            return
        self.apply_filter(text=event.value)

    _typed_waiting = False  # text was typed while a read was on its way

    @on(Worker.StateChanged)
    def read_what_was_typed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        waiting = self._typed_waiting and worker.group == "log-read"
        if waiting and worker.is_finished and not self.busy("log-read"):
            self._typed_waiting = False
            self.apply_filter()

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
        elif self.marked or self.log_filter.narrows():
            self.marked.clear()
            self.apply_filter(state="open", source=None, severity=None, text="")

    def action_silences(self) -> None:
        from app.ui.screens.silences import SilencesScreen

        self.app.push_screen(SilencesScreen())

    def action_seen(self) -> None:
        self.seen_at = display.now()
        self.looked.clear()
        self.reload_in_place()

    def action_copy(self, what: str) -> None:
        if self.table.when_landed(partial(self.action_copy, what)):
            return
        row = self.table.views.get(self.table.selected_id or 0)
        if row is None:
            return
        text = f"#{row.id}" if what == "id" else row.title
        self.app.copy_to_clipboard(text)
        self.notify(
            f"Copied {short(text, 60).plain} (through the terminal, OSC 52: it works "
            "over SSH; in tmux it needs `set -g set-clipboard on`).",
            markup=False,
        )

    # Triage

    def action_mark(self) -> None:
        if self.table.when_landed(self.action_mark):
            return
        incident_id = self.table.selected_id
        if incident_id is None:
            return
        self.marked.symmetric_difference_update({incident_id})
        self.reload_in_place()  # redraws the mark; the cursor then moves on from it
        self.table.step(+1)

    def action_open_detail(self) -> None:
        if self.table.when_landed(self.action_open_detail):
            return
        if self.table.selected_id is not None:
            self.app.push_screen(IncidentDetailScreen(self.table.selected_id))

    @on(IncidentTable.RowSelected)
    def row_chosen(self) -> None:
        self.action_open_detail()

    # A key for the incident under the cursor, pressed while j past the window waits for its
    # window, acts where the moves land, not on the row the cursor waits on.

    def action_triage(self, action: str) -> None:
        if not self.table.when_landed(partial(self.action_triage, action)):
            super().action_triage(action)

    def action_note(self) -> None:
        if not self.table.when_landed(self.action_note):
            super().action_note()

    def action_assign(self) -> None:
        if not self.table.when_landed(self.action_assign):
            super().action_assign()

    def incident_in_hand(self) -> IncidentView | None:
        selected = self.table.selected_id
        return None if selected is None else self.table.views.get(selected)

    def triage_targets(self) -> list[int]:
        if self.marked:
            return sorted(self.marked)
        return [] if self.table.selected_id is None else [self.table.selected_id]

    def on_triage_done(self, message: TriageDone) -> None:
        self.notify(
            message.text, severity="error" if message.failed else "information", markup=False
        )
        if not message.failed and message.clears_marks:
            self.marked.clear()
        self.reload_in_place()
