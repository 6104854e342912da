"""One line of a form: a label and its field; and the forms' drop-down of fixed choices."""

from __future__ import annotations

from collections.abc import Iterable

from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Label, Select


def form_row(label: str, field: Widget, *, id: str | None = None) -> Horizontal:
    """A row with the `.row` style of the form that yields it."""
    return Horizontal(Label(label), field, classes="row", id=id)


def choice_select(choices: Iterable[tuple[str, str]], value: str, *, id: str) -> Select:
    """A compact drop-down that always holds one of `choices` (label, value)."""
    return Select(list(choices), value=value, allow_blank=False, id=id, compact=True)
