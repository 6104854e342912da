"""The delivery log: one row per notification, newest first, its status lit."""

from __future__ import annotations

from rich.text import Text

from app.core.notifications.deliveries import DeliveryView
from app.ui.display import ago
from app.ui.widgets.keyed_table import KeyedTable

STATUS_LOOK = {
    "queued": ("… queued", "cyan"),
    "sent": ("✓ sent", "green"),
    "retrying": ("↻ retrying", "bold yellow"),
    "failed": ("✗ failed", "bold red"),
}
COLUMNS = (
    ("status", "Status"),
    ("incident", "Incident"),
    ("event", "Event"),
    ("address", "Address"),
    ("attempts", "Tries"),
    ("when", "Queued"),
    ("reply", "Last reply"),
)


def status_text(view: DeliveryView) -> Text:
    if view.held_until and view.status in ("queued", "retrying"):
        return Text("⏸ held", style="bold yellow")
    label, style = STATUS_LOOK.get(view.status, (view.status, ""))
    return Text(label, style=style)


class DeliveriesTable(KeyedTable):
    TITLE = "Deliveries"
    KEYED_COLUMNS = COLUMNS

    def show(self, views: list[DeliveryView]) -> None:
        self.show_items(views, self._row)

    @staticmethod
    def _row(view: DeliveryView) -> tuple[str, tuple[Text, ...]]:
        return str(view.id), (
            status_text(view),
            Text(f"#{view.incident_id}", justify="right"),
            Text(view.event.removeprefix("incident_")),
            Text(view.address),
            Text(f"{view.attempts:,}", justify="right"),
            Text(ago(view.created_at)),
            Text(view.last_reply or "-"),
        )
