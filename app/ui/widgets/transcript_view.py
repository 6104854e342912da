"""The Test Configuration transcript: one line per SMTP stage, filled in as stages finish."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from app.core.sending.smtp import StageResult, Transcript


def stage_table(stage: StageResult) -> Table:
    """A stage as a three-column grid, so wrapped replies keep their indent.

    Cells are rich Text, never markup: server replies may hold brackets.
    """
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(width=12, no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_column(width=6, justify="right", no_wrap=True)
    name = Text()
    name.append("✔ " if stage.ok else "✘ ", style="bold green" if stage.ok else "bold red")
    name.append(stage.stage, style="bold")
    grid.add_row(name, Text(stage.reply), Text(f"{stage.elapsed_ms:.0f} ms", style="dim"))
    for detail in stage.details:
        grid.add_row("", Text(detail, style="dim" if stage.ok else ""), "")
    if stage.hint:
        hint = Text("hint: ", style="bold yellow")
        hint.append(stage.hint, style="yellow")
        grid.add_row("", hint, "")
    return grid


class TranscriptView(VerticalScroll):
    """Shows a test as it runs; `stages` holds the results shown, for tests and screenshots."""

    DEFAULT_CSS = """
    TranscriptView { border: round $primary-muted; padding: 0 1; height: 1fr; }
    TranscriptView > .stage { margin: 0 0 0 0; }
    TranscriptView > .summary { margin-top: 1; text-style: bold; }
    TranscriptView > .summary.-ok { color: $success; }
    TranscriptView > .summary.-failed { color: $error; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Transcript"
        self.stages: list[StageResult] = []
        self.summary = ""

    def on_mount(self) -> None:
        self.mount(
            Static(
                Text(
                    "Press Test Configuration to see each stage of the SMTP conversation here.",
                    style="dim",
                ),
                classes="idle",
            )
        )

    def _clear(self) -> None:
        self.stages.clear()
        self.summary = ""
        self.remove_children()

    def start(self, heading: str) -> None:
        self._clear()
        self.mount(Static(Text(heading, style="bold"), classes="heading"))

    def add_stage(self, stage: StageResult) -> None:
        self.stages.append(stage)
        self.mount(Static(stage_table(stage), classes="stage"))
        self.call_after_refresh(self.scroll_end, animate=False)

    def finish(self, transcript: Transcript) -> None:
        self.summary = transcript.summary
        mark = "✔ " if transcript.ok else "✘ "
        summary = Static(Text(mark + transcript.summary), classes="summary")
        summary.add_class("-ok" if transcript.ok else "-failed")
        self.mount(summary)
        self.call_after_refresh(self.scroll_end, animate=False)

    def refuse(self, message: str) -> None:
        self._clear()
        self.summary = message
        summary = Static(Text("✘ " + message), classes="summary -failed")
        self.mount(summary)
