"""An ordered list of a source's rules (filters, key rules, resolve rules, severity rules, or
its one title rule) to edit by key."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from app.core.intake.rules import (
    RuleError,
    parse_condition,
    parse_key_rule,
    parse_severity_rule,
)
from app.ui.display import printable

TITLES = {
    "filter": "Filters",
    "key_rule": "Key rules · the first that extracts wins",
    "resolve_rule": "Resolve rules",
    "severity_rule": "Severity rules · the first that holds wins",
    "title_rule": "Title rule",
}
EMPTY = {
    "filter": "none: every mail counts (a: add)",
    "key_rule": "none (a: add; by_key needs one)",
    "resolve_rule": "none: no mail resolves (a: add)",
    "severity_rule": "none: the source's severity (a: add)",
    "title_rule": "none: the first mail's subject (a: add)",
}
NONE_KEY = "none"
SINGLE = ("title_rule",)  # kinds that hold at most one rule: `a` edits the one there is


def describe(kind: str, data: dict) -> str:
    """A rule in words, as the pipeline's reasons say it."""
    try:
        if kind in ("key_rule", "title_rule"):
            return parse_key_rule(data, "rule").describe()
        if kind == "severity_rule":
            return parse_severity_rule(data, "rule").describe()
        return parse_condition(data, "rule").describe()
    except RuleError as error:
        return f"(invalid) {error}"


class RuleList(DataTable):
    DEFAULT_CSS = """
    RuleList {
        height: auto; max-height: 8; border: round $primary-muted; border-title-color: $text;
        scrollbar-size-horizontal: 0;
    }
    RuleList:focus { border: round $primary; }
    """
    BINDINGS = [
        Binding("a", "add", "Add rule", id="rules.add"),
        Binding("e", "edit", "Edit rule", id="rules.edit"),
        Binding("delete,x", "remove", "Remove rule", id="rules.remove"),
        Binding("K", "move(-1)", "Move up", id="rules.up"),
        Binding("J", "move(1)", "Move down", id="rules.down"),
        Binding("m", "toggle_match", "All/any", id="rules.match"),
        Binding("j", "cursor_down", "Down", show=False, id="rules.cursor-down"),
        Binding("k", "cursor_up", "Up", show=False, id="rules.cursor-up"),
    ]

    @dataclass
    class EditRequested(Message):
        """index None: a new rule."""

        rules: RuleList
        index: int | None

    @dataclass
    class Changed(Message):
        rules: RuleList

    def __init__(self, kind: str, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", show_header=False)
        self.kind = kind
        self.rules: list[dict] = []
        self.match: str | None = {"filter": "all", "resolve_rule": "any"}.get(kind)

    def on_mount(self) -> None:
        self.add_column("n", key="n")
        self.add_column("rule", key="rule")
        self.show()

    def load(self, rules: list[dict], match: str | None) -> None:
        self.rules = [dict(rule) for rule in rules]
        self.match = match
        self.show()

    def show(self, cursor: int | None = None) -> None:
        if cursor is None:
            cursor = self.cursor_row
        self.clear()
        for index, rule in enumerate(self.rules, start=1):
            self.add_row(
                Text(str(index)), Text(printable(describe(self.kind, rule))), key=str(index)
            )
        if not self.rules:
            self.add_row(Text(""), Text(EMPTY[self.kind], style="dim"), key=NONE_KEY)
        self.move_cursor(row=max(0, min(cursor, len(self.rules) - 1)))
        title = TITLES[self.kind]
        if self.match is not None:
            joined = "all must hold" if self.match == "all" else "any one holding is enough"
            title += f" · {joined} (m)"
        self.border_title = title

    @property
    def chosen(self) -> int | None:
        return self.cursor_row if self.rules else None

    def put(self, index: int | None, rule: dict) -> None:
        """Store an edited (index) or new (None) rule and say so."""
        if index is None:
            self.rules.append(rule)
            index = len(self.rules) - 1
        else:
            self.rules[index] = rule
        self.show(cursor=index)
        self.post_message(self.Changed(self))

    def action_add(self) -> None:
        if self.kind in SINGLE and self.rules:
            self.action_edit()  # one title rule: adding is changing it
            return
        self.post_message(self.EditRequested(self, None))

    def action_edit(self) -> None:
        if self.chosen is not None:
            self.post_message(self.EditRequested(self, self.chosen))

    @on(DataTable.RowSelected)
    def row_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.rules:
            self.action_edit()
        else:
            self.action_add()

    def action_remove(self) -> None:
        if self.chosen is not None:
            del self.rules[self.chosen]
            self.show()
            self.post_message(self.Changed(self))

    def action_move(self, step: int) -> None:
        index = self.chosen
        if index is None or not 0 <= index + step < len(self.rules):
            return
        self.rules[index], self.rules[index + step] = self.rules[index + step], self.rules[index]
        self.show(cursor=index + step)
        self.post_message(self.Changed(self))

    def action_toggle_match(self) -> None:
        if self.match is not None:
            self.match = "any" if self.match == "all" else "all"
            self.show()
            self.post_message(self.Changed(self))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_match":
            return self.match is not None
        if action == "move":
            return self.kind not in SINGLE
        return True
