"""The incident log's header: counts per state, the filter, what is new, where we are."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from app.core.incidents.log import LOG_ORDERS, LogFilter, LogWindow
from app.ui.display import STATE_LOOK, printable
from app.words import plural


class LogHeader(Static):
    DEFAULT_CSS = """
    LogHeader { height: 2; padding: 0 1; background: $boost; }
    """

    def show(
        self,
        window: LogWindow,
        log_filter: LogFilter,
        rows: int,
        serve: str,
        *,
        following: bool = False,
    ) -> None:
        """Counts are the whole log's; the rest says what the filter shows of it."""
        line = Text()
        for state, (symbol, word, style) in STATE_LOOK.items():
            line.append(f"{symbol} {window.counts.get(state, 0):,} {word}", style=style)
            line.append("  ")
        line.append("│ ", style="dim")
        line.append(printable(log_filter.describe()), style="bold")
        if window.changed_since:
            line.append(f"  │ ● {window.changed_since:,} new", style="bold magenta")
        if window.active_silences:
            said = plural(window.active_silences, "silence")
            line.append(f"  │ ⊘ {said} (z)", style="bold yellow")
        first = window.offset + 1 if rows else 0
        line.append(f"  │ {first:,}–{window.offset + rows:,} of {window.total:,}", style="dim")
        line.append("\n")
        if following:
            line.append("following the newest (f: stop)  ", style="bold cyan")
        if log_filter.order != "newest":
            line.append(f"{LOG_ORDERS[log_filter.order]} (t: order)  ", style="bold")
        line.append(printable(serve), style="dim")
        self.update(line)
