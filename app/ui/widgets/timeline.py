"""An incident's timeline: its events and every notification sent for it, in time order, the
detail cut to the width the table has (a narrow table drops Who into the detail)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text

from app.core.incidents.views import ReplyView, TimelineEntry
from app.core.notifications.deliveries import DeliveryView
from app.ui.display import parse_time, printable, shown, when
from app.ui.widgets.keyed_table import KeyedTable
from app.words import plural

# What a notification's status is called on the timeline (SPEC §5: notified, notification failed).
DELIVERY_KINDS = {"sent": "notified", "failed": "notification failed"}
KIND_STYLES = {"sent": "green", "failed": "bold red", "retrying": "yellow", "held": "yellow"}
NARROW_BELOW = 100  # cells of table: shorter times, and Who goes into the detail
CELL_PADDING = 2  # a DataTable cell's padding, both sides


@dataclass(frozen=True)
class TimelineRow:
    key: str
    at: datetime
    kind: Text
    actor: str
    detail: Text


def event_row(
    entry: TimelineEntry, number: int, replies: dict[int, ReplyView] | None = None
) -> TimelineRow:
    """One event; a note's lines joined with ⏎, a reply as who wrote it and its first line."""
    detail = Text(printable(entry.detail))
    reply = (replies or {}).get(entry.mail_id or -1) if entry.kind == "reply" else None
    if entry.kind == "note":
        detail = Text(" ⏎ ".join(printable(line) for line in entry.detail.splitlines()))
    elif reply is not None:
        said = f": {reply.first_lines[0]}" if reply.first_lines else ""
        detail = Text(printable(f"{reply.from_}{said}"))
    return TimelineRow(
        f"event-{number}", parse_time(entry.at), Text(entry.kind), printable(entry.actor or ""),
        detail,
    )  # fmt: skip


def delivery_row(view: DeliveryView) -> TimelineRow:
    """What the kind says (notified, notification failed…), then to whom, for which event."""
    detail = Text(f"{printable(view.address)} · {view.event.removeprefix('incident_')}")
    if view.attempts > 1:
        detail.append(f" · {plural(view.attempts, 'try', 'tries')}")
    if view.status != "sent" and view.last_reply:
        detail.append(f" · {printable(view.last_reply)}", style="dim")
    held = view.held_until is not None and view.status in ("queued", "retrying")
    status = "held" if held else view.status
    kind = Text(
        DELIVERY_KINDS.get(status, f"notification {status}"), style=KIND_STYLES.get(status, "")
    )
    return TimelineRow(f"delivery-{view.id}", view.happened_at, kind, "", detail)


def timeline_rows(
    entries: Iterable[TimelineEntry],
    deliveries: Iterable[DeliveryView],
    replies: Iterable[ReplyView] = (),
) -> list[TimelineRow]:
    """Events and notifications by time; at the same moment an event comes before what it sent."""
    by_mail = {reply.mail_id: reply for reply in replies}
    rows = [event_row(entry, number, by_mail) for number, entry in enumerate(entries)]
    rows += sorted((delivery_row(view) for view in deliveries), key=lambda row: row.key)
    return sorted(rows, key=lambda row: row.at)


class TimelineTable(KeyedTable):
    TITLE = "Timeline"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows_shown: list[TimelineRow] = []
        self.narrow: bool | None = None

    def on_mount(self) -> None:
        self.show(self.rows_shown)

    def on_resize(self) -> None:
        self.show(self.rows_shown)

    def show(self, rows: list[TimelineRow]) -> None:
        self.rows_shown = rows
        width = self.scrollable_content_region.width or self.size.width
        narrow = width < NARROW_BELOW
        if narrow != self.narrow:
            self.narrow = narrow
            self.clear(columns=True)
            self.add_column("When", key="at")
            self.add_column("What", key="kind")
            if not narrow:
                self.add_column("Who", key="actor")
            self.add_column("Detail", key="detail")
        stamp = (lambda at: shown(at).strftime("%m-%d %H:%M:%S")) if narrow else when
        cells = [
            (stamp(row.at), row.kind, row.actor, row.detail) for row in rows
        ]  # fmt: skip
        used = sum(
            max((len(str(cell[index])) for cell in cells), default=0) + CELL_PADDING
            for index in ((0, 1) if narrow else (0, 1, 2))
        )
        room = max(16, width - used - CELL_PADDING)
        following = not self.row_count or self.cursor_row == self.row_count - 1
        self.replace_rows((row.key, self._cells(stamp, row, narrow, room)) for row in rows)
        if following and self.row_count:  # on the newest entry: stay on the newest
            self.move_cursor(row=self.row_count - 1)

    @staticmethod
    def _cells(stamp, row: TimelineRow, narrow: bool, room: int) -> tuple[Text, ...]:
        detail = row.detail
        if narrow and row.actor and row.actor not in detail.plain:
            detail = Text(f"{row.actor}: ").append_text(detail)
        cut = detail.copy()
        cut.no_wrap = True
        cut.truncate(room, overflow="ellipsis")
        when_cell, kind = Text(stamp(row.at)), row.kind
        if narrow:
            return when_cell, kind, cut
        return when_cell, kind, Text(row.actor), cut
