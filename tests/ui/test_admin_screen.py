"""The Admin screen driven by keys: add a user, edit permissions and groups, refusals."""

from __future__ import annotations

from textual.widgets import Checkbox, Input

from app.core.users import add_user, ensure_user, show_user
from app.core.workspace import open_workspace
from app.ui.app import MailsirenApp
from app.ui.modals.confirm import ConfirmModal
from app.ui.modals.user_form import UserFormModal
from app.ui.widgets.groups_table import GroupsTable
from app.ui.widgets.users_table import UsersTable
from tests.as_operator import LOGIN_VARIABLE
from tests.ui.pilot import settle


async def test_an_administrator_adds_a_group_and_a_user_in_it(workspace):
    app = MailsirenApp(workspace, initial_mode="admin")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        users = app.screen.query_one(UsersTable)
        assert users.selected_key == "alice" and users.has_focus

        await pilot.press("tab", "n")  # the groups table: new group
        await pilot.press(*"ops", "enter")
        await settle(app, pilot)
        assert app.screen.query_one(GroupsTable).selected_key == "ops"

        await pilot.press("shift+tab", "n")  # back to users: new user
        assert isinstance(app.screen, UserFormModal)
        await pilot.press(*"bob")
        app.screen.query_one("#email", Input).focus()
        await pilot.press(*"bob@example.com")
        for box in app.screen.query(Checkbox):
            if box.name in ("triage", "ops"):
                box.toggle()
        await pilot.press("ctrl+s")
        await settle(app, pilot)

        bob = show_user(workspace.database, workspace.user, "bob")
        assert bob.email == "bob@example.com" and bob.groups == ("ops",)
        assert bob.permissions == ("view_connections", "triage")
        assert "bob" in users.rows and app.screen.query_one(GroupsTable).row_count == 1


async def test_a_wrong_field_keeps_the_form_open_and_says_why(workspace):
    app = MailsirenApp(workspace, initial_mode="admin")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("n", *"bad name")
        app.screen.query_one("#email", Input).focus()
        await pilot.press(*"bob example.com", "ctrl+s")
        form = app.screen
        assert isinstance(form, UserFormModal)
        assert "not a login name" in str(form.query_one("#name-error").render())
        assert "not a plain address" in str(form.query_one("#email-error").render())
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen.query_one(UsersTable).row_count == 1


async def test_removing_the_last_administrator_is_refused_with_a_reason(workspace):
    app = MailsirenApp(workspace, initial_mode="admin")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(app, pilot)
        assert any("only administrator" in n.message for n in app._notifications)
        assert show_user(workspace.database, workspace.user, "alice").is_admin


async def test_removing_a_user_asks_first(workspace):
    add_user(workspace.database, workspace.user, "bob")
    app = MailsirenApp(workspace, initial_mode="admin")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("j", "x", "n")  # declined: bob stays
        await settle(app, pilot)
        assert "bob" in app.screen.query_one(UsersTable).rows
        await pilot.press("x", "y")
        await settle(app, pilot)
        assert "bob" not in app.screen.query_one(UsersTable).rows


async def test_a_user_who_is_not_an_administrator_sees_why_and_no_directory(workspace, monkeypatch):
    ensure_user(workspace.database, "bob")
    monkeypatch.setenv(LOGIN_VARIABLE, "bob")
    bobs = open_workspace()
    try:
        app = MailsirenApp(bobs, initial_mode="admin")
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(app, pilot)
            assert app.screen.has_class("-refused")
            assert not app.screen.query_one("#directory").display
            assert app.screen.query_one(UsersTable).row_count == 0
            assert "Administration is for administrators" in str(
                app.screen.query_one("EmptyState Static").render()
            )
    finally:
        bobs.close()
