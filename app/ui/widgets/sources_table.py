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
    ("watch", "Watch"),
    ("creation", "Creation"),
    ("severity", "Severity"),
)


class SourcesTable(KeyedTable):
    TITLE = "Alert sources"
    KEYED_COLUMNS = COLUMNS

    def show(self, summaries: list[SourceSummary], watch: dict[str, Text] | None = None) -> None:
        """`watch`: by source name, its silence or its heartbeat ("due in 4m", "overdue")."""
        self.watch = watch or {}
        self.show_items(summaries, self._row)

    def _row(self, summary: SourceSummary) -> tuple[str, tuple[Text, ...]]:
        spec = summary.spec
        last = iso_utc(summary.last_mail_at) if summary.last_mail_at else None
        return spec.name, (
            Text(printable(spec.name), style="bold"),
            Text(spec.address),
            Text("✓ yes", style="green") if spec.enabled else Text("✗ no", style="red"),
            Text(f"{summary.open_incidents:,}", justify="right"),
            Text(f"{summary.mails_today:,}", justify="right"),
            Text(f"{age(last)} ago" if last else "never"),
            self.watch.get(spec.name, Text("-", style="dim")),
            Text(spec.creation),
            Text(spec.severity),
        )


def watch_column(summaries, silences, heartbeats, now) -> dict[str, Text]:
    """Each source's silence (active now) or else its heartbeat, as the Watch column says."""
    shown: dict[str, Text] = {}
    for summary in summaries:
        spec = summary.spec
        covering = [
            silence for silence in silences
            if silence.is_active(now) and silence.source in (None, spec.name)
        ]  # fmt: skip
        beat = heartbeats.get(spec.id)
        if covering:
            partly = all(silence.match for silence in covering)
            shown[spec.name] = Text(
                f"⊘ silenced #{covering[0].id}" + (" (some)" if partly else ""), style="yellow"
            )
        elif beat is not None:
            said = beat.describe(now)
            shown[spec.name] = Text(f"♥ {said}", style="bold red" if "overdue" in said else "")
    return shown
