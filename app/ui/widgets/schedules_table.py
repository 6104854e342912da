"""On-call schedules: who is on call now and next, with the handoff in the schedule's time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text

from app.core.incidents.schedules import ScheduleSpec, Shift
from app.ui.widgets.keyed_table import KeyedTable

COLUMNS = (
    ("name", "Schedule"),
    ("rotation", "Rotation"),
    ("now", "On call now"),
    ("handoff", "Handoff (its time)"),
    ("next", "Next"),
)


@dataclass(frozen=True)
class ScheduleNow:
    """A schedule, and its shift now and the one after (read in a worker)."""

    spec: ScheduleSpec
    now: Shift
    next: Shift

    @classmethod
    def at(cls, spec: ScheduleSpec, moment: datetime) -> ScheduleNow:
        shift = spec.on_call(moment)
        return cls(spec, shift, spec.on_call(shift.ends_at))


class SchedulesTable(KeyedTable):
    TITLE = "On-call schedules (n: override)"
    KEYED_COLUMNS = COLUMNS

    def show(self, views: list[ScheduleNow]) -> None:
        self.replace_rows(self._row(view) for view in views)

    @staticmethod
    def _row(view: ScheduleNow) -> tuple[str, tuple[Text, ...]]:
        spec = view.spec

        def local(moment: datetime) -> str:
            return moment.astimezone(spec.zone).strftime("%a %d %b %H:%M %Z")

        def who(shift: Shift) -> str:
            return f"{shift.user}{' (override)' if shift.override else ''}"

        return spec.name, (
            Text(spec.name, style="bold"),
            Text(f"{spec.length}: {', '.join(spec.users)}"),
            Text(who(view.now)),
            Text(local(view.now.ends_at)),
            Text(who(view.next)),
        )
