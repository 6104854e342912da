"""A row-cursor DataTable whose rows have keys, and whose cursor survives a refresh; the
rows it was shown are drawn again every few seconds, so that ages ("5m ago") keep moving."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

AGE_SECONDS = 2.0  # how often the shown rows are drawn again from what the table holds
Row = tuple[str, Sequence[str | Text]]


class KeyedTable(DataTable):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up"),
        Binding("g", "scroll_top", "First", show=False, id="table.first"),
        Binding("G", "scroll_bottom", "Last", show=False, id="table.last"),
    ]
    COLUMNS: tuple[str, ...] = ()
    KEYED_COLUMNS: tuple[tuple[str, str], ...] = ()  # (key, label): cells found by column key
    TITLE = ""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.border_title = self.TITLE
        self._items: list[Any] = []
        self._render_row: Callable[[Any], Row] | None = None

    def on_mount(self) -> None:
        self.add_columns(*self.COLUMNS)
        for key, label in self.KEYED_COLUMNS:
            self.add_column(label, key=key)
        self.set_interval(AGE_SECONDS, self.redraw_rows)

    def show_items(self, items: Iterable[Any], render_row: Callable[[Any], Row]) -> None:
        """Replace every row with `render_row(item)`; the items are kept to draw them again."""
        self._items, self._render_row = list(items), render_row
        self.replace_rows(render_row(item) for item in self._items)

    def redraw_rows(self) -> None:
        """Draw the held items again with the clock of now: no read, no new rows, the cursor
        and scroll where they are; only cells whose text changed are updated."""
        if self._render_row is None or not self.screen.is_current:
            return
        columns = list(self.columns)
        for item in self._items:
            key, cells = self._render_row(item)
            if key not in self.rows:
                continue
            for column, cell in zip(columns, cells, strict=False):
                cell = cell if isinstance(cell, Text) else Text(cell)
                if self.get_cell(key, column) != cell:
                    self.update_cell(key, column, cell)

    async def _on_idle(self, _event) -> None:
        # DataTable measures new rows on idle (its own handler runs right after this one),
        # but keeps the cells it drew before at the old widths: forget them once it has.
        if self._require_update_dimensions:
            self.call_next(self._forget_drawn_cells)

    def _forget_drawn_cells(self) -> None:
        self._clear_caches()
        self.refresh()

    def replace_rows(self, rows: Iterable[tuple[str, Sequence[str | Text]]]) -> None:
        """Replace every row; the cursor stays on the same key when that row still exists."""
        selected = self.selected_key
        self.clear()
        for key, cells in rows:
            # A plain string becomes Text: never read as markup.
            self.add_row(
                *(cell if isinstance(cell, Text) else Text(cell) for cell in cells), key=key
            )
        if selected is not None and selected in self.rows:
            self.move_cursor(row=self.get_row_index(selected))

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
