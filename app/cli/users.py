"""`mailsiren users list|show|add|set|grant|revoke|remove`: users and their permissions."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from app.cli.common import EXIT_OK, CommandError, add_command, opened_workspace, print_json
from app.core.names import PERMISSIONS

if TYPE_CHECKING:
    from app.core.users import UserView


def register(commands) -> None:
    users = add_command(
        commands, "users", "users and their permissions (administrators)",
        "mailsiren users list", "mailsiren users grant bob triage",
    )  # fmt: skip
    actions = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    listing = add_command(
        actions, "list", "list users", "mailsiren users list --json", handler=run_users_list
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = add_command(
        actions,
        "show",
        "show a user (yourself without NAME)",
        "mailsiren users show",
        "mailsiren users show alice",
        handler=run_users_show,
    )
    show.add_argument("name", nargs="?", help="login name (default: you)")
    show.add_argument("--json", action="store_true", help="print JSON")
    add = add_command(
        actions,
        "add",
        "add a user by login name",
        "mailsiren users add bob --email bob@example.com --group ops --permission triage",
        handler=run_users_add,
    )
    add.add_argument("name", help="the operating-system login")
    add.add_argument("--email", default=None, help="notification and default sender address")
    add.add_argument("--group", action="append", default=[], help="a group (repeatable)")
    add.add_argument(
        "--permission",
        action="append",
        choices=PERMISSIONS,
        default=None,
        help="a permission (repeatable; default view_connections)",
    )
    change = add_command(
        actions,
        "set",
        "change a user's email address or groups (your own email needs no admin)",
        "mailsiren users set alice --email alice@example.com",
        "mailsiren users set bob --groups ops,dba",
        handler=run_users_set,
    )
    change.add_argument("name", help="login name")
    email = change.add_mutually_exclusive_group()
    email.add_argument("--email", default=None, help="the new address")
    email.add_argument("--no-email", action="store_true", help="remove the address")
    change.add_argument(
        "--groups", default=None, help="comma-separated: the user's whole set of groups"
    )
    for verb, text in (("grant", "give"), ("revoke", "take away")):
        command = add_command(
            actions,
            verb,
            f"{text} permissions",
            f"mailsiren users {verb} bob triage edit_connections",
            handler=run_users_grant if verb == "grant" else run_users_revoke,
        )
        command.add_argument("name", help="login name")
        command.add_argument("permissions", nargs="+", choices=PERMISSIONS, metavar="PERMISSION")
    remove = add_command(
        actions, "remove", "remove a user", "mailsiren users remove bob", handler=run_users_remove
    )
    remove.add_argument("name", help="login name")


def _user_json(user: UserView) -> dict:
    return {
        "name": user.name,
        "email": user.email,
        "groups": list(user.groups),
        "permissions": list(user.permissions),
    }


def _print_user(user: UserView) -> None:
    print(
        f"{user.name:<16} {user.email or '(no email)':<32} "
        f"groups: {', '.join(user.groups) or '-':<20} permissions: {', '.join(user.permissions)}"
    )


def run_users_list(arguments: argparse.Namespace) -> int:
    from app.core.users import list_users

    with opened_workspace() as workspace:
        users = list_users(workspace.database, workspace.user)
    if arguments.json:
        print_json([_user_json(user) for user in users])
    else:
        for user in users:
            _print_user(user)
    return EXIT_OK


def run_users_show(arguments: argparse.Namespace) -> int:
    from app.core.users import show_user

    with opened_workspace() as workspace:
        user = show_user(workspace.database, workspace.user, arguments.name or workspace.user.name)
    if arguments.json:
        print_json(_user_json(user))
    else:
        _print_user(user)
    return EXIT_OK


def run_users_add(arguments: argparse.Namespace) -> int:
    from app.core.names import DEFAULT_PERMISSIONS
    from app.core.users import add_user

    with opened_workspace() as workspace:
        user = add_user(
            workspace.database,
            workspace.user,
            arguments.name,
            email=arguments.email,
            permissions=arguments.permission or DEFAULT_PERMISSIONS,
            groups=arguments.group,
        )
    print("Added:")
    _print_user(user)
    return EXIT_OK


def run_users_set(arguments: argparse.Namespace) -> int:
    from app.core.users import UNCHANGED, update_user

    email = None if arguments.no_email else arguments.email or UNCHANGED
    groups = UNCHANGED
    if arguments.groups is not None:
        groups = [name.strip() for name in arguments.groups.split(",") if name.strip()]
    if email is UNCHANGED and groups is UNCHANGED:
        raise CommandError("nothing to change: give --email ADDRESS, --no-email or --groups A,B")
    with opened_workspace() as workspace:
        user = update_user(
            workspace.database, workspace.user, arguments.name, email=email, groups=groups
        )
    _print_user(user)
    return EXIT_OK


def run_users_grant(arguments: argparse.Namespace) -> int:
    from app.core.users import grant

    with opened_workspace() as workspace:
        _print_user(
            grant(workspace.database, workspace.user, arguments.name, arguments.permissions)
        )
    return EXIT_OK


def run_users_revoke(arguments: argparse.Namespace) -> int:
    from app.core.users import revoke

    with opened_workspace() as workspace:
        _print_user(
            revoke(workspace.database, workspace.user, arguments.name, arguments.permissions)
        )
    return EXIT_OK


def run_users_remove(arguments: argparse.Namespace) -> int:
    from app.core.users import remove_user

    with opened_workspace() as workspace:
        remove_user(workspace.database, workspace.user, arguments.name)
    print(f"Removed {arguments.name}.")
    return EXIT_OK
