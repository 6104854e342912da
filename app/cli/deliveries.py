"""`mailsiren deliveries list`: the notification delivery log, with why any failed."""

from __future__ import annotations

import argparse

from app.cli.common import EXIT_OK, add_command, opened_workspace, print_json
from app.core.names import DELIVERY_STATUSES


def register(commands) -> None:
    deliveries = add_command(
        commands, "deliveries", "the notification delivery log",
        "mailsiren deliveries list --status failed",
    )  # fmt: skip
    actions = deliveries.add_subparsers(dest="deliveries_command", metavar="ACTION", required=True)
    listing = add_command(
        actions, "list", "notifications, newest first, with why any failed",
        "mailsiren deliveries list", "mailsiren deliveries list --status failed --json",
        handler=run_deliveries_list,
    )  # fmt: skip
    listing.add_argument("--status", choices=DELIVERY_STATUSES)
    listing.add_argument("--incident", type=int, help="only this incident's notifications")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true", help="print JSON")


def run_deliveries_list(arguments: argparse.Namespace) -> int:
    from app.core.notifications.deliveries import list_deliveries

    with opened_workspace() as workspace:
        views = list_deliveries(
            workspace.database, workspace.user, status=arguments.status,
            incident_id=arguments.incident, limit=arguments.limit,
        )  # fmt: skip
    if arguments.json:
        print_json([view.to_json() for view in views])
        return EXIT_OK
    if not views:
        print("No notifications yet.")
    for view in views:
        print(
            f"{view.id:<6} #{view.incident_id:<5} {view.event:<21} {view.address:<30} "
            f"{view.status:<9} {view.attempts:>2}×  {view.last_reply or '-'}"
        )
        if view.hint and view.status != "sent":
            print(f"{'':<14}→ {view.hint}")
    return EXIT_OK
