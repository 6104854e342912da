"""The groups an administrator manages, with their members; Allowed-Group names these."""

from __future__ import annotations

from textual.binding import Binding

from app.core.users import GroupView
from app.ui.widgets.keyed_table import KeyedTable


class GroupsTable(KeyedTable):
    COLUMNS = ("Group", "Members")
    TITLE = "Groups"
    BINDINGS = [
        Binding("n", "screen.add_group", "New group", id="admin.add-group"),
        Binding("delete,x", "screen.remove_group", "Delete group", id="admin.remove-group"),
    ]

    def show(self, groups: list[GroupView]) -> None:
        self.replace_rows(
            (group.name, (group.name, ", ".join(group.members) or "—")) for group in groups
        )
