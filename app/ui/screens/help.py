"""The help screen: every binding of the screen beneath, grouped, scrollable at 80×24, with
each binding's id (what `[keymap]` in config.toml names); `enter` runs the selected one."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable

from app.ui.screen_bindings import BindingGroup, ScreenBinding
from app.ui.widgets.keyed_table import KeyedTable


class HelpTable(KeyedTable):
    """The bindings, one row each, under a bold row per group."""

    COLUMNS = ("key", "does", "binding id (keymap)")


class HelpScreen(ModalScreen[ScreenBinding | None]):
    """Dismissed with the binding to run (enter), or None (esc, ?, f1, q)."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 100%; max-width: 96; height: 100%;
        border: thick $primary; background: $surface;
    }
    HelpScreen HelpTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape,question_mark,f1,q", "close", "Close", id="help.close"),
    ]

    def __init__(self, title: str, groups: list[BindingGroup]) -> None:
        super().__init__()
        self._title = title
        self._groups = groups
        self._rows: dict[str, ScreenBinding] = {}

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = f"Keys · {self._title}"
            frame.border_subtitle = "↑↓ j k pgdn: scroll · enter: run · esc: close"
            yield HelpTable(id="help-table")

    def on_mount(self) -> None:
        rows: list[tuple[str, list[str | Text]]] = []
        for number, group in enumerate(self._groups):
            rows.append((f"group-{number}", ["", Text(group.title, style="bold"), ""]))
            for offered in group.bindings:
                key = f"{number}:{offered.id or offered.binding.action}"
                self._rows[key] = offered
                style = "" if offered.enabled else "dim"
                does = offered.description + ("" if offered.enabled else " (not now)")
                rows.append(
                    (
                        key,
                        [
                            Text(offered.key_display(), style=f"bold {style}".strip()),
                            Text(does, style=style),
                            Text(offered.id or "—", style="dim"),
                        ],
                    )
                )
        table = self.query_one(HelpTable)
        table.replace_rows(rows)
        table.move_cursor(row=1)
        table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        offered = self._rows.get(str(event.row_key.value))
        if offered is None:
            return
        if not offered.enabled:
            self.app.bell()
            return
        self.dismiss(offered)

    def action_close(self) -> None:
        self.dismiss(None)
