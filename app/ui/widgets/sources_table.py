"""The alert sources: one row per source, keyed by name, with its traffic and open incidents."""

from __future__ import annotations

from rich.text import Text

from app.core.incidents.views import iso_utc
from app.core.intake.sources import SourceSummary
from app.ui import display
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

    def show(self, summaries: list[SourceSummary], silences=(), heartbeats=None) -> None:
        """With the silences and heartbeats (by source id) that the Watch column tells,
        worked out again at every redraw, so "due in 4m" counts down like "Last mail"."""
        self.silences, self.heartbeats = tuple(silences), heartbeats or {}
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
            watch_cell(spec, self.silences, self.heartbeats, display.now()),
            Text(spec.creation),
            Text(spec.severity),
        )


def watch_cell(spec, silences, heartbeats, now) -> Text:
    """A source's silence (active now), its heartbeat (overdue first), or a dash."""
    beat = heartbeats.get(spec.id)
    said = beat.describe(now) if beat is not None else ""
    if said.startswith("overdue"):
        return Text(f"♥ {said}", style="bold red")  # the one thing a glance must not miss
    covering = [
        silence for silence in silences
        if silence.is_active(now) and silence.source in (None, spec.name)
    ]  # fmt: skip
    if covering:
        partly = " (some)" if all(silence.match for silence in covering) else ""
        return Text(f"⊘ silenced #{covering[0].id}{partly}", style="yellow")
    return Text(f"♥ {said}") if said else Text("-", style="dim")
