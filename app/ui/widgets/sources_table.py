"""The alert sources: one row per source, keyed by name, with its traffic and open incidents."""

from __future__ import annotations

from rich.text import Text

from app.core.incidents.views import iso_utc
from app.core.intake.sources import SourceSummary
from app.ui.display import age, printable
from app.ui.widgets.keyed_table import KeyedTable

# What an operator checks first (is it on, is it quiet, is it alerting) before the settings.
COLUMNS = (
    ("name", "Name"),
    ("address", "Address"),
    ("enabled", "Enabled"),
    ("open", "Open"),
    ("today", "Today"),
    ("last", "Last mail"),
    ("creation", "Creation"),
    ("severity", "Severity"),
)


class SourcesTable(KeyedTable):
    TITLE = "Alert sources"
    KEYED_COLUMNS = COLUMNS

    def show(self, summaries: list[SourceSummary]) -> None:
        self.show_items(summaries, self._row)

    @staticmethod
    def _row(summary: SourceSummary) -> tuple[str, tuple[Text, ...]]:
        spec = summary.spec
        last = iso_utc(summary.last_mail_at) if summary.last_mail_at else None
        return spec.name, (
            Text(printable(spec.name), style="bold"),
            Text(spec.address),
            Text("✓ yes", style="green") if spec.enabled else Text("✗ no", style="red"),
            Text(f"{summary.open_incidents:,}", justify="right"),
            Text(f"{summary.mails_today:,}", justify="right"),
            Text(f"{age(last)} ago" if last else "never"),
            Text(spec.creation),
            Text(spec.severity),
        )
