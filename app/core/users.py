"""Identity (the operating-system login), groups and permissions."""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from sqlmodel import func, select

from app.core.db import Clock, Database, utc_now
from app.core.models import Group, GroupMembership, User

PERMISSIONS = (
    "view_connections",
    "edit_connections",
    "delete_connections",
    "triage",
    "admin",
)


class PermissionDenied(Exception):
    """The user lacks a permission; the message names it."""


@dataclass(frozen=True)
class UserView:
    """A user as the rest of mailsiren reads it: plain data, no live database row."""

    id: int
    name: str
    email: str | None
    groups: tuple[str, ...]
    permissions: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.permissions

    def can(self, permission: str) -> bool:
        return self.is_admin or permission in self.permissions


def require(user: UserView, permission: str) -> None:
    if not user.can(permission):
        raise PermissionDenied(
            f"{user.name} lacks the {permission!r} permission; ask an administrator for it."
        )


def current_login() -> str:
    """The operating-system login: mailsiren's notion of who is at the keyboard."""
    return getpass.getuser()


def ensure_user(database: Database, name: str, *, clock: Clock = utc_now) -> UserView:
    """The user of that login, created on first sight; the first user is an administrator."""
    with database.read() as session:
        user = session.exec(select(User).where(User.name == name)).first()
        if user is not None:
            return _view(session, user)
    with database.write() as session:
        user = session.exec(select(User).where(User.name == name)).first()
        if user is None:
            is_first = session.exec(select(func.count()).select_from(User)).one() == 0
            user = User(
                name=name,
                permissions=list(PERMISSIONS) if is_first else ["view_connections"],
                created_at=clock(),
            )
            session.add(user)
            session.flush()
        return _view(session, user)


def _view(session, user: User) -> UserView:
    groups = session.exec(
        select(Group.name)
        .join(GroupMembership, GroupMembership.group_id == Group.id)
        .where(GroupMembership.user_id == user.id)
        .order_by(Group.name)
    ).all()
    return UserView(
        id=user.id,  # type: ignore[arg-type]
        name=user.name,
        email=user.email,
        groups=tuple(groups),
        permissions=tuple(user.permissions),
    )
