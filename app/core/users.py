"""Identity (the operating-system login), groups and permissions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import Session, func, select

from app.core.addresses import AddressError, parse_address
from app.core.names import DEFAULT_PERMISSIONS, PERMISSIONS
from app.core.store.db import Clock, Database, utc_now
from app.core.store.models import Group, GroupMembership, Schedule, User
from app.core.store.secrets import normalise_address
from app.errors import MailsirenError

_USER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")
_GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
UNCHANGED = object()  # update_user: leave this attribute as it is


class PermissionDenied(MailsirenError):
    """The user lacks a permission; the message names it."""

    title = "Permission needed"


class UserAdminError(MailsirenError, ValueError):
    """A user or group change that cannot be made; the message says why and what to do."""

    title = "User or group not changed"


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


def require_current(database: Database, actor: UserView, permission: str) -> None:
    """require(), against the actor's permissions as stored now, not as they were at login."""
    with database.read() as session:
        row = session.get(User, actor.id)
        permissions = tuple(row.permissions) if row is not None else ()
    require(UserView(actor.id, actor.name, None, (), permissions), permission)


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


@dataclass(frozen=True)
class GroupView:
    name: str
    members: tuple[str, ...]


def check_user_name(name: str) -> str:
    if not _USER_NAME.match(name):
        raise UserAdminError(
            f"{name!r} is not a login name: letters, digits, '_', '.', '-', "
            "starting with a letter or '_'"
        )
    return name


def check_group_name(name: str) -> str:
    if not _GROUP_NAME.match(name):
        raise UserAdminError(
            f"{name!r} is not a group name: letters, digits, '_', '.', '-', "
            "starting with a letter or digit"
        )
    return name


def check_permissions(permissions: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(permissions))
    unknown = [permission for permission in chosen if permission not in PERMISSIONS]
    if unknown:
        raise UserAdminError(
            f"unknown permission {', '.join(unknown)}; known: {', '.join(PERMISSIONS)}"
        )
    return tuple(permission for permission in PERMISSIONS if permission in chosen)


def _check_email(email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    try:
        return parse_address(email)
    except AddressError as error:
        raise UserAdminError(f"email: {error}") from error


def list_users(database: Database, actor: UserView) -> list[UserView]:
    require_current(database, actor, "admin")
    with database.read() as session:
        users = session.exec(select(User).order_by(User.name)).all()
        return [_view(session, user) for user in users]


def user_names(database: Database) -> list[str]:
    """Every user's name, sorted: whom an incident can be assigned to (no emails, no
    permissions: anyone who triages may see who else could own an incident)."""
    with database.read() as session:
        return list(session.exec(select(User.name).order_by(User.name)).all())


def show_user(database: Database, actor: UserView, name: str) -> UserView:
    """One user: anyone may see themselves; seeing others is an administrator's."""
    if name != actor.name:
        require_current(database, actor, "admin")
    with database.read() as session:
        return _view(session, _get_user(session, name))


def list_groups(database: Database, actor: UserView) -> list[GroupView]:
    require_current(database, actor, "admin")
    with database.read() as session:
        rows = session.exec(
            select(Group.name, User.name)
            .join(GroupMembership, GroupMembership.group_id == Group.id, isouter=True)
            .join(User, User.id == GroupMembership.user_id, isouter=True)
            .order_by(Group.name, User.name)
        ).all()
    members: dict[str, list[str]] = {}
    for group_name, user_name in rows:
        members.setdefault(group_name, [])
        if user_name is not None:
            members[group_name].append(user_name)
    return [GroupView(name, tuple(names)) for name, names in members.items()]


def add_user(
    database: Database,
    actor: UserView,
    name: str,
    *,
    email: str | None = None,
    permissions: Sequence[str] = DEFAULT_PERMISSIONS,
    groups: Sequence[str] = (),
    clock: Clock = utc_now,
) -> UserView:
    """Create a user (an administrator's act); groups must exist already."""
    require_current(database, actor, "admin")
    check_user_name(name)
    chosen_permissions = check_permissions(permissions)
    email = _check_email(email)
    with database.write() as session:
        if _find_user(session, name) is not None:
            raise UserAdminError(f"{name} exists already; change it with: mailsiren users set")
        user = User(name=name, permissions=list(chosen_permissions), created_at=clock())
        _set_email(database, user, email)
        session.add(user)
        session.flush()
        _set_groups(session, user, groups)
        return _view(session, user)


def update_user(
    database: Database,
    actor: UserView,
    name: str,
    *,
    email: object = UNCHANGED,
    permissions: object = UNCHANGED,
    groups: object = UNCHANGED,
) -> UserView:
    """Change a user's email, permissions (the whole set) or groups (the whole set).

    An administrator may change anything but may not leave mailsiren without an
    administrator; a user who is not one may change only their own email address.
    """
    only_own_email = permissions is UNCHANGED and groups is UNCHANGED and name == actor.name
    if not only_own_email:
        require_current(database, actor, "admin")
    with database.write() as session:
        user = _get_user(session, name)
        if email is not UNCHANGED:
            _set_email(database, user, _check_email(email))  # type: ignore[arg-type]
        if permissions is not UNCHANGED:
            chosen = check_permissions(permissions)  # type: ignore[arg-type]
            if "admin" in user.permissions and "admin" not in chosen:
                _refuse_if_last_admin(session, user)
            user.permissions = list(chosen)
        if groups is not UNCHANGED:
            _set_groups(session, user, groups)  # type: ignore[arg-type]
        session.add(user)
        session.flush()
        return _view(session, user)


def grant(database: Database, actor: UserView, name: str, permissions: Sequence[str]) -> UserView:
    require_current(database, actor, "admin")
    current = _permissions_of(database, name)
    return update_user(database, actor, name, permissions=current + tuple(permissions))


def revoke(database: Database, actor: UserView, name: str, permissions: Sequence[str]) -> UserView:
    require_current(database, actor, "admin")
    check_permissions(permissions)
    current = _permissions_of(database, name)
    kept = tuple(permission for permission in current if permission not in permissions)
    return update_user(database, actor, name, permissions=kept)


def remove_user(database: Database, actor: UserView, name: str) -> None:
    require_current(database, actor, "admin")
    with database.write() as session:
        user = _get_user(session, name)
        if "admin" in user.permissions:
            _refuse_if_last_admin(session, user)
        refuse_if_on_a_rotation(session, name)
        session.delete(user)


def refuse_if_on_a_rotation(session: Session, name: str) -> None:
    """A user in a schedule's rotation is not removed: the schedules are named."""
    rows = session.exec(select(Schedule.name, Schedule.users)).all()
    schedules = sorted(schedule for schedule, users in rows if name in users)
    if schedules:
        raise UserAdminError(
            f"{name} is in the rotation of the schedule{'s' if len(schedules) > 1 else ''} "
            f"{', '.join(schedules)}: take {name} out of it first (config import); "
            "nothing was removed"
        )


def add_group(database: Database, actor: UserView, name: str) -> GroupView:
    require_current(database, actor, "admin")
    check_group_name(name)
    with database.write() as session:
        if session.exec(select(Group).where(Group.name == name)).first() is not None:
            raise UserAdminError(f"the group {name} exists already")
        session.add(Group(name=name))
    return GroupView(name, ())


def remove_group(database: Database, actor: UserView, name: str) -> None:
    require_current(database, actor, "admin")
    with database.write() as session:
        session.delete(_get_group(session, name))


def change_members(
    database: Database, actor: UserView, group_name: str, *, add=(), remove=()
) -> GroupView:
    """Add and remove members of one group; every user named must exist."""
    require_current(database, actor, "admin")
    with database.write() as session:
        group = _get_group(session, group_name)
        for name in add:
            user = _get_user(session, name)
            if session.get(GroupMembership, (user.id, group.id)) is None:
                session.add(GroupMembership(user_id=user.id, group_id=group.id))
        for name in remove:
            membership = session.get(GroupMembership, (_get_user(session, name).id, group.id))
            if membership is not None:
                session.delete(membership)
        session.flush()
        members = session.exec(
            select(User.name)
            .join(GroupMembership, GroupMembership.user_id == User.id)
            .where(GroupMembership.group_id == group.id)
            .order_by(User.name)
        ).all()
        return GroupView(group.name, tuple(members))


def _find_user(session: Session, name: str) -> User | None:
    return session.exec(select(User).where(User.name == name)).first()


def _get_user(session: Session, name: str) -> User:
    user = _find_user(session, name)
    if user is None:
        raise UserAdminError(f"no user {name!r}; add one with: mailsiren users add {name}")
    return user


def _get_group(session: Session, name: str) -> Group:
    group = session.exec(select(Group).where(Group.name == name)).first()
    if group is None:
        raise UserAdminError(f"no group {name!r}; create it with: mailsiren groups add {name}")
    return group


def _permissions_of(database: Database, name: str) -> tuple[str, ...]:
    with database.read() as session:
        return tuple(_get_user(session, name).permissions)


def _set_email(database: Database, user: User, email: str | None) -> None:
    user.email = email
    user.email_hash = (
        None if email is None else database.keyring.keyed_hash(normalise_address(email))
    )


def _set_groups(session: Session, user: User, names: Iterable[str]) -> None:
    wanted = {_get_group(session, name).id for name in dict.fromkeys(names)}
    memberships = session.exec(
        select(GroupMembership).where(GroupMembership.user_id == user.id)
    ).all()
    for membership in memberships:
        if membership.group_id not in wanted:
            session.delete(membership)
    present = {membership.group_id for membership in memberships}
    for group_id in wanted - present:
        session.add(GroupMembership(user_id=user.id, group_id=group_id))
    session.flush()


def _refuse_if_last_admin(session: Session, user: User) -> None:
    admins = [
        other.name
        for other in session.exec(select(User)).all()
        if "admin" in other.permissions and other.id != user.id
    ]
    if not admins:
        raise UserAdminError(
            f"{user.name} is the only administrator; make another user an administrator "
            "first (mailsiren users grant NAME admin)"
        )


def user_by_id(database: Database, user_id: int | None) -> UserView | None:
    """The user as stored now (whose SMTP configuration sends a notification), or None."""
    if user_id is None:
        return None
    with database.read() as session:
        user = session.get(User, user_id)
        return _view(session, user) if user is not None else None


def users_as_stored(session: Session) -> list[UserView]:
    """Every user by name, on the caller's session, for a caller that checked permissions."""
    return [_view(session, user) for user in session.exec(select(User).order_by(User.name)).all()]


def put_user(
    session: Session,
    database: Database,
    name: str,
    *,
    email: str | None,
    groups: Sequence[str],
    permissions: Sequence[str],
    clock: Clock = utc_now,
) -> bool:
    """Create the user, or replace its email, groups and permissions (the whole sets), on the
    caller's session; True when it was created. The caller checked the values and its right."""
    user = _find_user(session, name)
    created = user is None
    if user is None:
        user = User(name=name, permissions=[], created_at=clock())
    user.permissions = list(check_permissions(permissions))
    _set_email(database, user, _check_email(email))
    session.add(user)
    session.flush()
    _set_groups(session, user, groups)
    return created
