"""Add or edit a user: login name, email, permissions and groups, checked before closing."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, Static

from app.core.addresses import AddressError, parse_address
from app.core.names import PERMISSION_HELP, PERMISSIONS
from app.core.users import UserAdminError, UserView, check_user_name
from app.ui.modals.footed import FootedModal


@dataclass(frozen=True)
class UserFormResult:
    name: str
    email: str | None
    permissions: tuple[str, ...]
    groups: tuple[str, ...]
    is_new: bool


class UserFormModal(FootedModal[UserFormResult | None]):
    DEFAULT_CSS = """
    UserFormModal { align: center middle; }
    UserFormModal > Vertical {
        width: 76; height: auto; max-height: 90%; padding: 0 2;
        border: thick $primary; background: $surface;
    }
    UserFormModal VerticalScroll { height: auto; max-height: 24; }
    UserFormModal .row { height: auto; margin-top: 1; }
    UserFormModal .row Label { width: 8; }
    UserFormModal .row Input { width: 1fr; }
    UserFormModal .error { color: $error; height: auto; padding-left: 8; }
    UserFormModal .heading { margin-top: 1; text-style: bold; }
    UserFormModal Checkbox { width: 1fr; }
    UserFormModal .buttons { height: auto; margin: 1 0; align-horizontal: right; }
    UserFormModal Button { margin-left: 2; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="user-form.save"),
        Binding("escape", "cancel", "Cancel", id="user-form.cancel"),
    ]

    def __init__(self, user: UserView | None, group_names: list[str]) -> None:
        super().__init__()
        self._user = user
        self._group_names = group_names

    def compose(self) -> ComposeResult:
        user = self._user
        with Vertical() as frame:
            frame.border_title = f"Edit {user.name}" if user else "New user"
            with VerticalScroll(can_focus=False):  # scrolls to the focused field
                with Horizontal(classes="row"):
                    yield Label("Login")
                    yield Input(
                        user.name if user else "",
                        placeholder="the operating-system login, e.g. bob",
                        id="name",
                        disabled=user is not None,
                        compact=True,
                    )
                yield Static("", id="name-error", classes="error", markup=False)
                with Horizontal(classes="row"):
                    yield Label("Email")
                    yield Input(
                        (user.email or "") if user else "",
                        placeholder="notifications and default sender, e.g. bob@example.com",
                        id="email",
                        compact=True,
                    )
                yield Static("", id="email-error", classes="error", markup=False)
                yield Static("Permissions", classes="heading")
                granted = user.permissions if user else ("view_connections",)
                for permission in PERMISSIONS:
                    yield Checkbox(
                        f"{permission}: {PERMISSION_HELP[permission]}",
                        permission in granted,
                        name=permission,
                        classes="permission",
                        compact=True,
                    )
                yield Static("Groups", classes="heading")
                if not self._group_names:
                    yield Static(
                        "No groups yet: create one in the Groups table (n).", classes="dim"
                    )
                for group in self._group_names:
                    yield Checkbox(
                        group,
                        bool(user and group in user.groups),
                        name=group,
                        classes="group",
                        compact=True,
                    )
            with Horizontal(classes="buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#email" if self._user else "#name", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        name = self.query_one("#name", Input).value.strip()
        email = self.query_one("#email", Input).value.strip()
        errors = {"name": "", "email": ""}
        try:
            check_user_name(name)
        except UserAdminError as error:
            errors["name"] = str(error)
        if email:
            try:
                email = parse_address(email)
            except AddressError as error:
                errors["email"] = str(error)
        for field, message in errors.items():
            self.query_one(f"#{field}-error", Static).update(message)
        if any(errors.values()):
            return
        self.dismiss(
            UserFormResult(
                name=name,
                email=email or None,
                permissions=self._checked("permission"),
                groups=self._checked("group"),
                is_new=self._user is None,
            )
        )

    def _checked(self, kind: str) -> tuple[str, ...]:
        return tuple(box.name for box in self.query(f"Checkbox.{kind}") if box.value and box.name)
