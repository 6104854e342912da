"""The email integrations: one row per entry, with its delivery health."""

from __future__ import annotations

from rich.text import Text

from app.core.notifications.integrations import IntegrationView
from app.ui import display
from app.ui.display import ago
from app.ui.widgets.keyed_table import KeyedTable

COLUMNS = (
    ("address", "Email Address"),
    ("level", "Notification Type"),
    ("health", "Health"),
    ("enabled", "Enabled"),
    ("frequency", "Frequency"),
    ("owner", "Owner (sends)"),
    ("success", "Last success"),
    ("failure", "Last failure"),
)


def health(view: IntegrationView) -> Text:
    if view.throttled_until and view.throttled_until > display.now():
        return Text(
            f"⏸ throttled to {display.shown(view.throttled_until):%H:%M}", style="bold yellow"
        )
    if view.last_failure and (not view.last_success or view.last_failure > view.last_success):
        return Text("✗ failing", style="bold red")
    if view.last_success:
        return Text("✓ ok", style="green")
    return Text("· no mail yet", style="dim")


class IntegrationsTable(KeyedTable):
    TITLE = "Email integrations"
    KEYED_COLUMNS = COLUMNS

    def show(self, views: list[IntegrationView]) -> None:
        self.show_items(views, self._row)

    @staticmethod
    def _row(view: IntegrationView) -> tuple[str, tuple[Text, ...]]:
        return str(view.id), (
            Text(view.address, style="bold"),
            Text(view.level_text),
            health(view),
            Text("✓ yes", style="green") if view.enabled else Text("✗ no", style="red"),
            Text(view.frequency.title()),
            Text(view.owner or "(none)"),
            Text(ago(view.last_success)),
            Text(ago(view.last_failure)),
        )
