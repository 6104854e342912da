"""Administration: users, their permissions and groups; refused to anyone but an admin."""

from __future__ import annotations

from dataclasses import dataclass

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Static

from app.core.users import (
    GroupView,
    PermissionDenied,
    UserAdminError,
    UserView,
    add_group,
    add_user,
    check_group_name,
    list_groups,
    list_users,
    remove_group,
    remove_user,
    update_user,
)
from app.errors import MailsirenError
from app.ui.modals.confirm import ConfirmModal
from app.ui.modals.text_prompt import TextPromptModal
from app.ui.modals.user_form import UserFormModal, UserFormResult
from app.ui.screens.area import AreaScreen
from app.ui.widgets.empty_state import EmptyState
from app.ui.widgets.groups_table import GroupsTable
from app.ui.widgets.users_table import UsersTable


@dataclass
class DirectoryLoaded(Message):
    users: list[UserView]
    groups: list[GroupView]
    notice: str = ""


@dataclass
class NotAnAdministrator(Message):
    user: UserView


@dataclass
class ChangeRefused(Message):
    reason: str


class AdminScreen(AreaScreen):
    AREA_TITLE = "Admin"
    DEFAULT_CSS = """
    AdminScreen #directory { height: 1fr; }
    AdminScreen UsersTable { width: 2fr; height: 1fr; border: round $primary-muted; }
    AdminScreen GroupsTable { width: 1fr; height: 1fr; border: round $primary-muted; }
    AdminScreen UsersTable:focus, AdminScreen GroupsTable:focus { border: round $primary; }
    AdminScreen #admin-hint { height: auto; padding: 0 1; color: $text-muted; }
    AdminScreen EmptyState { display: none; }
    AdminScreen.-refused EmptyState { display: block; }
    AdminScreen.-refused #directory, AdminScreen.-refused #admin-hint { display: none; }
    """

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="directory"):
            yield UsersTable(id="users")
            yield GroupsTable(id="groups")
        yield Static(
            "tab switches between users and groups. Permissions are enforced by mailsiren "
            "itself, not only hidden here. The shared SMTP configuration is a file "
            "(mailsiren locate shared-config); its Allowed-Group lines name these groups.",
            id="admin-hint",
        )
        yield EmptyState("Administration", "Checking your permissions…")

    def on_mount(self) -> None:
        super().on_mount()
        self._users: list[UserView] = []
        self._groups: list[GroupView] = []
        self.load_directory()

    @property
    def users_table(self) -> UsersTable:
        return self.query_one(UsersTable)

    @property
    def groups_table(self) -> GroupsTable:
        return self.query_one(GroupsTable)

    # Actions (bound on the tables, so the footer shows the keys of the focused one)

    def action_add_user(self) -> None:
        self._open_user_form(None)

    def action_edit_user(self) -> None:
        name = self.users_table.selected_key
        user = next((user for user in self._users if user.name == name), None)
        if user is not None:
            self._open_user_form(user)

    def action_remove_user(self) -> None:
        name = self.users_table.selected_key
        if name is None:
            return
        question = (
            f"Remove the user {name}? Their personal SMTP settings and group memberships are "
            "deleted with them."
        )
        self._confirm(question, lambda: self.remove_user_named(name))

    def action_add_group(self) -> None:
        def check(name: str) -> str | None:
            try:
                check_group_name(name)
            except UserAdminError as error:
                return str(error)
            return None

        def created(name: str | None) -> None:
            if name:
                self.create_group(name)

        self.app.push_screen(
            TextPromptModal("New group", "a name, e.g. ops (Allowed-Group uses it)", check),
            created,
        )

    def action_remove_group(self) -> None:
        name = self.groups_table.selected_key
        if name is None:
            return
        question = f"Delete the group {name}? Its members stay users; they only leave the group."
        self._confirm(question, lambda: self.delete_group(name))

    def _open_user_form(self, user: UserView | None) -> None:
        def saved(result: UserFormResult | None) -> None:
            if result is not None:
                self.save_user(result)

        names = [group.name for group in self._groups]
        self.app.push_screen(UserFormModal(user, names), saved)

    def _confirm(self, question: str, then) -> None:
        def answered(confirmed: bool | None) -> None:
            if confirmed:
                then()

        self.app.push_screen(ConfirmModal(question, yes_label="Delete"), answered)

    # Workers: every change goes through app.core, which checks the permission again

    def _workspace(self):
        return self.app.workspace

    @work(thread=True, group="admin", exclusive=True, exit_on_error=False)
    def load_directory(self) -> None:
        self._post_directory("")

    def _post_directory(self, notice: str) -> None:
        """Read users and groups (in a worker thread) and post them to the screen."""
        workspace = self._workspace()
        actor = workspace.refresh_user()
        try:
            users = list_users(workspace.database, actor)
            groups = list_groups(workspace.database, actor)
        except PermissionDenied:
            self.post_message(NotAnAdministrator(actor))
            return
        self.post_message(DirectoryLoaded(users, groups, notice))

    def _change(self, change, notice: str) -> None:
        """Make one change through app.core (in a worker thread), then show the result."""
        workspace = self._workspace()
        try:
            change(workspace.database, workspace.user)
        except MailsirenError as error:
            self.post_message(ChangeRefused(str(error)))
            return
        self._post_directory(notice)

    @work(thread=True, group="admin-change", exit_on_error=False)
    def save_user(self, result: UserFormResult) -> None:
        def change(database, actor) -> None:
            save = add_user if result.is_new else update_user
            save(
                database,
                actor,
                result.name,
                email=result.email,
                permissions=result.permissions,
                groups=result.groups,
            )

        self._change(change, f"Saved {result.name}.")

    @work(thread=True, group="admin-change", exit_on_error=False)
    def remove_user_named(self, name: str) -> None:
        self._change(lambda database, actor: remove_user(database, actor, name), f"Removed {name}.")

    @work(thread=True, group="admin-change", exit_on_error=False)
    def create_group(self, name: str) -> None:
        self._change(lambda database, actor: add_group(database, actor, name), f"Created {name}.")

    @work(thread=True, group="admin-change", exit_on_error=False)
    def delete_group(self, name: str) -> None:
        self._change(
            lambda database, actor: remove_group(database, actor, name), f"Deleted {name}."
        )

    # Message handlers own the widgets

    def on_directory_loaded(self, message: DirectoryLoaded) -> None:
        self.remove_class("-refused")
        self._users, self._groups = message.users, message.groups
        self.users_table.show(message.users)
        self.groups_table.show(message.groups)
        if message.notice:
            self.notify(message.notice, markup=False)

    def on_not_an_administrator(self, message: NotAnAdministrator) -> None:
        user = message.user
        self.add_class("-refused")
        self.query_one(EmptyState).remove()
        self.mount(
            EmptyState(
                "Administration is for administrators",
                f"You are {user.name}, with the permissions "
                f"{', '.join(user.permissions) or 'none'} and the groups "
                f"{', '.join(user.groups) or 'none'}. An administrator manages users, groups "
                "and permissions here or with `mailsiren users` and `mailsiren groups`. You can "
                f"set your own email address: mailsiren users set {user.name} --email ADDRESS",
            ),
            before=self.query_one("Footer"),
        )

    def on_change_refused(self, message: ChangeRefused) -> None:
        self.notify(message.reason, title="Not changed", severity="error", markup=False)
