"""The users an administrator manages: one row per login, keyed by name."""

from __future__ import annotations

from textual.binding import Binding

from app.core.users import UserView
from app.ui.widgets.keyed_table import KeyedTable


class UsersTable(KeyedTable):
    COLUMNS = ("Name", "Email", "Groups", "Permissions")
    TITLE = "Users"
    BINDINGS = [
        Binding("n", "screen.add_user", "New user", id="admin.add-user"),
        Binding("e,enter", "screen.edit_user", "Edit", id="admin.edit-user"),
        Binding("delete,x", "screen.remove_user", "Remove", id="admin.remove-user"),
    ]

    def show(self, users: list[UserView]) -> None:
        self.replace_rows(
            (
                user.name,
                (
                    user.name,
                    user.email or "—",
                    ", ".join(user.groups) or "—",
                    "admin (all)" if user.is_admin else ", ".join(user.permissions) or "—",
                ),
            )
            for user in users
        )
