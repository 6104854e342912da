"""`mailsiren groups list|add|remove|add-member|remove-member`: groups of users."""

from __future__ import annotations

import argparse

from app.cli.common import EXIT_OK, add_command, opened_workspace, print_json


def register(commands) -> None:
    groups = add_command(
        commands, "groups", "groups of users (administrators)",
        "mailsiren groups add ops", "mailsiren groups add-member ops alice bob",
    )  # fmt: skip
    actions = groups.add_subparsers(dest="groups_command", metavar="ACTION", required=True)
    listing = add_command(
        actions, "list", "list groups and members", "mailsiren groups list", handler=run_groups_list
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    for verb, text, handler in (
        ("add", "create a group", run_groups_add),
        ("remove", "delete a group (its members stay users)", run_groups_remove),
    ):
        command = add_command(actions, verb, text, f"mailsiren groups {verb} ops", handler=handler)
        command.add_argument("name", help="group name")
    for verb, text, handler in (
        ("add-member", "put users in a group", run_groups_add_member),
        ("remove-member", "take users out of a group", run_groups_remove_member),
    ):
        command = add_command(
            actions, verb, text, f"mailsiren groups {verb} ops alice bob", handler=handler
        )
        command.add_argument("group", help="group name")
        command.add_argument("users", nargs="+", metavar="USER", help="login names")


def run_groups_list(arguments: argparse.Namespace) -> int:
    from app.core.users import list_groups

    with opened_workspace() as workspace:
        groups = list_groups(workspace.database, workspace.user)
    if arguments.json:
        print_json([{"name": group.name, "members": list(group.members)} for group in groups])
    else:
        for group in groups:
            print(f"{group.name:<16} {', '.join(group.members) or '(no members)'}")
    return EXIT_OK


def run_groups_add(arguments: argparse.Namespace) -> int:
    from app.core.users import add_group

    with opened_workspace() as workspace:
        add_group(workspace.database, workspace.user, arguments.name)
    print(f"Created the group {arguments.name}.")
    return EXIT_OK


def run_groups_remove(arguments: argparse.Namespace) -> int:
    from app.core.users import remove_group

    with opened_workspace() as workspace:
        remove_group(workspace.database, workspace.user, arguments.name)
    print(f"Deleted the group {arguments.name}.")
    return EXIT_OK


def _change_members(arguments: argparse.Namespace, *, adding: bool) -> int:
    from app.core.users import change_members

    with opened_workspace() as workspace:
        group = change_members(
            workspace.database,
            workspace.user,
            arguments.group,
            add=arguments.users if adding else (),
            remove=() if adding else arguments.users,
        )
    print(f"{group.name}: {', '.join(group.members) or '(no members)'}")
    return EXIT_OK


def run_groups_add_member(arguments: argparse.Namespace) -> int:
    return _change_members(arguments, adding=True)


def run_groups_remove_member(arguments: argparse.Namespace) -> int:
    return _change_members(arguments, adding=False)
