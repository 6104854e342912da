"""Keys that need a permission say so, and how to get it, instead of doing nothing."""

from __future__ import annotations

from textual.dom import DOMNode


def refused(node: DOMNode, permission: str, doing: str) -> bool:
    """True (and a notice naming the grant command) when the user lacks `permission`.

    The screens only explain; app.core refuses again with the permissions stored now.
    """
    user = node.app.workspace.user  # type: ignore[attr-defined]
    if user.can(permission):
        return False
    node.notify(
        f"You ({user.name}) do not have the {permission} permission, so you cannot {doing}. "
        f"An administrator can grant it: mailsiren users grant {user.name} {permission}",
        severity="error",
        markup=False,
    )
    return True
