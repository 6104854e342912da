"""Users, groups and permissions: enforced in core, whatever the screen shows."""

from __future__ import annotations

import pytest

from app.core.users import (
    PermissionDenied,
    UserAdminError,
    add_group,
    add_user,
    change_members,
    ensure_user,
    grant,
    list_groups,
    list_users,
    remove_group,
    remove_user,
    revoke,
    show_user,
    update_user,
)


def test_the_first_user_is_an_administrator_and_later_ones_view_only(database, user):
    assert user.is_admin
    bob = ensure_user(database, "bob")
    assert bob.permissions == ("view_connections",) and not bob.is_admin


def test_an_administrator_adds_users_with_email_groups_and_permissions(database, user):
    add_group(database, user, "ops")
    bob = add_user(
        database, user, "bob", email="Bob@Example.com", permissions=["triage"], groups=["ops"]
    )
    assert (bob.email, bob.groups, bob.permissions) == ("Bob@Example.com", ("ops",), ("triage",))
    assert [listed.name for listed in list_users(database, user)] == ["alice", "bob"]
    assert list_groups(database, user)[0].members == ("bob",)


def test_a_user_who_is_not_an_administrator_cannot_grant_himself_anything(database, user):
    bob = add_user(database, user, "bob")
    for attempt in (
        lambda: grant(database, bob, "bob", ["admin"]),
        lambda: update_user(database, bob, "bob", permissions=["admin"]),
        lambda: update_user(database, bob, "bob", groups=[]),
        lambda: add_user(database, bob, "carol"),
        lambda: add_group(database, bob, "mine"),
        lambda: change_members(database, bob, "mine", add=["bob"]),
        lambda: list_users(database, bob),
        lambda: show_user(database, bob, "alice"),
    ):
        with pytest.raises(PermissionDenied, match="'admin' permission"):
            attempt()
    assert show_user(database, user, "bob").permissions == ("view_connections",)


def test_a_user_may_set_only_his_own_email(database, user):
    bob = add_user(database, user, "bob")
    assert update_user(database, bob, "bob", email="bob@example.com").email == "bob@example.com"
    with pytest.raises(PermissionDenied):
        update_user(database, bob, "alice", email="bob@example.com")
    assert show_user(database, bob, "bob").email == "bob@example.com"


def test_a_revoked_administrator_is_refused_at_once_even_with_an_old_view(database, user):
    bob = add_user(database, user, "bob", permissions=["admin"])
    revoke(database, user, "bob", ["admin"])
    with pytest.raises(PermissionDenied):
        add_user(database, bob, "carol")  # bob's view still says admin


def test_the_last_administrator_cannot_be_removed_or_demoted(database, user):
    with pytest.raises(UserAdminError, match="only administrator"):
        revoke(database, user, "alice", ["admin"])
    with pytest.raises(UserAdminError, match="only administrator"):
        remove_user(database, user, "alice")
    grant(database, user, "alice", [])  # a no-op stays allowed
    add_user(database, user, "bob", permissions=["admin"])
    assert "admin" not in revoke(database, user, "alice", ["admin"]).permissions


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda db, u: add_user(db, u, "bad name"), "not a login name"),
        (lambda db, u: add_user(db, u, "alice"), "exists already"),
        (lambda db, u: add_user(db, u, "bob", email="bob@x\r\nBcc: y@z"), "line break"),
        (lambda db, u: add_user(db, u, "bob", permissions=["root"]), "unknown permission root"),
        (lambda db, u: add_user(db, u, "bob", groups=["nope"]), "no group 'nope'"),
        (lambda db, u: add_group(db, u, "-x"), "not a group name"),
        (lambda db, u: change_members(db, u, "nope", add=["alice"]), "mailsiren groups add"),
        (lambda db, u: update_user(db, u, "ghost", email=None), "mailsiren users add ghost"),
    ],
)
def test_mistakes_say_what_is_wrong_and_what_to_do(database, user, call, message):
    with pytest.raises(UserAdminError, match=message):
        call(database, user)


def test_group_membership_changes_and_removal(database, user):
    add_group(database, user, "ops")
    add_user(database, user, "bob")
    assert change_members(database, user, "ops", add=["alice", "bob"]).members == ("alice", "bob")
    assert change_members(database, user, "ops", remove=["alice"]).members == ("bob",)
    assert show_user(database, user, "bob").groups == ("ops",)
    remove_group(database, user, "ops")
    assert show_user(database, user, "bob").groups == ()
    assert list_groups(database, user) == []


def test_the_email_address_is_encrypted_at_rest(database, user, tmp_path):
    update_user(database, user, "alice", email="alice.secret@example.com")
    database.dispose()
    stored = b"".join(path.read_bytes() for path in (tmp_path / "db").glob("mailsiren.db*"))
    assert b"alice.secret" not in stored
