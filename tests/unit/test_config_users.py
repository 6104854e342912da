"""`config import|export` of [[user]] (SPEC §7): name, email, groups, permissions, validated
whole with the rest of the file, the email encrypted at rest, administrators only."""

from __future__ import annotations

import tomllib

import pytest
from sqlalchemy import text as sql

from app.core.configfile import ConfigFileError, export_config, import_config
from app.core.users import PermissionDenied, add_group, add_user, list_users, show_user

BOB = """
[[user]]
name = "bob"
email = "bob.secret@example.com"
groups = ["ops"]
permissions = ["view_connections", "edit_connections", "triage"]
"""


@pytest.fixture
def ops(database, user) -> None:
    add_group(database, user, "ops")
    add_group(database, user, "dba")


def test_a_user_table_imports_with_its_email_encrypted_at_rest(database, user, ops):
    report = import_config(database, user, BOB)
    assert (report.created, report.ignored) == (("user bob",), ())
    bob = show_user(database, user, "bob")
    assert (bob.email, bob.groups, bob.permissions) == (
        "bob.secret@example.com",
        ("ops",),
        ("view_connections", "edit_connections", "triage"),
    )
    with database.read() as session:
        stored, hashed = (
            session.connection()
            .execute(sql("SELECT email, email_hash FROM user_account WHERE name = 'bob'"))
            .one()
        )
    assert "bob.secret" not in stored and hashed  # a ciphertext, and the hash lookups use


def test_an_existing_user_is_replaced_by_the_file_and_others_are_kept(database, user, ops):
    add_user(database, user, "bob", email="old@example.com", groups=["dba"], permissions=["admin"])
    add_user(database, user, "carol")
    report = import_config(database, user, BOB)
    assert (report.created, report.updated) == ((), ("user bob",))
    bob = show_user(database, user, "bob")
    assert (bob.email, bob.groups, bob.permissions) == (
        "bob.secret@example.com",
        ("ops",),
        ("view_connections", "edit_connections", "triage"),
    )
    without_email = import_config(database, user, '[[user]]\nname = "bob"\n')
    assert without_email.updated == ("user bob",)
    bob = show_user(database, user, "bob")  # what the entry leaves out is the default
    assert (bob.email, bob.groups, bob.permissions) == (None, (), ("view_connections",))
    assert [listed.name for listed in list_users(database, user)] == ["alice", "bob", "carol"]


def test_export_then_import_is_the_same_users(database, user, ops):
    import_config(database, user, BOB + '[[user]]\nname = "carol"\ngroups = ["dba", "ops"]\n')
    exported = export_config(database, user)
    users = {entry["name"]: entry for entry in tomllib.loads(exported)["user"]}
    assert users["bob"] == {
        "name": "bob",
        "email": "bob.secret@example.com",
        "groups": ["ops"],
        "permissions": ["view_connections", "edit_connections", "triage"],
    }
    assert "email" not in users["carol"] and users["carol"]["groups"] == ["dba", "ops"]
    assert users["alice"]["permissions"][-1] == "admin"
    report = import_config(database, user, exported)
    assert report.created == () and set(report.updated) >= {"user alice", "user bob", "user carol"}
    assert export_config(database, user) == exported


def test_a_non_administrator_exports_no_users_and_may_import_them_only_unchanged(
    database, user, ops
):
    import_config(database, user, BOB)
    dave = add_user(database, user, "dave", permissions=["edit_connections", "view_connections"])
    assert "[[user]]" not in export_config(database, dave)
    assert "bob.secret" not in export_config(database)  # no actor: no users
    before = export_config(database, user)
    with pytest.raises(PermissionDenied, match="'admin' permission"):
        import_config(database, dave, BOB.replace('"triage"', '"admin"'))
    with pytest.raises(PermissionDenied, match="'admin' permission"):
        import_config(database, dave, '[[user]]\nname = "eve"\n')
    assert export_config(database, user) == before
    assert import_config(database, dave, before).created == ()  # the team's file, unchanged


ENTRY_ERRORS = [
    ('[[user]]\nname = "bob"\ncolour = "red"\n',
     r"\[\[user\]\] 1 \(bob\): unknown key 'colour'; known: name, email, groups, permissions"),
    ('[[user]]\nemail = "bob@example.com"\n', r"\[\[user\]\] 1: name: .*login name"),
    ('[[user]]\nname = "bob smith"\n', r"\[\[user\]\] 1: name: 'bob smith' is not a login name"),
    ('[[user]]\nname = "bob"\nemail = "bob at example.com"\n',
     r"\[\[user\]\] 1 \(bob\): email: .*name@example.com"),
    ('[[user]]\nname = "bob"\nemail = ""\n', r"\[\[user\]\] 1 \(bob\): email: .*leave the key out"),
    ('[[user]]\nname = "bob"\nemail = "bob@x\\r\\nBcc: y@z"\n', r"\(bob\): email: .*line break"),
    ('[[user]]\nname = "bob"\ngroups = "ops"\n', r"\(bob\): groups must be a list like \[\"ops\"\]"),
    ('[[user]]\nname = "bob"\ngroups = ["ops", "nope"]\n',
     r"\[\[user\]\] 1 \(bob\): groups: no group 'nope'; create it first with: mailsiren groups add nope"),
    ('[[user]]\nname = "bob"\npermissions = ["triage", "root"]\n',
     r"\[\[user\]\] 1 \(bob\): permissions: unknown permission root; known: view_connections"),
    ('[[user]]\nname = "bob"\npermissions = "triage"\n', r"\(bob\): permissions must be a list like"),
    ('[[user]]\nname = "bob"\n[[user]]\nname = "carol"\n[[user]]\nname = "bob"\n',
     r"\[\[user\]\] 3: name 'bob' is already used by \[\[user\]\] 1; list each user once"),
    ("user = 1\n", r"user entries are \[\[user\]\] tables"),
    ('[[user]]\nname = "alice"\npermissions = ["triage"]\n',
     "no user would be an administrator.*keep \"admin\" in the permissions of"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), ENTRY_ERRORS)
def test_a_wrong_user_entry_is_named_and_nothing_changes(database, user, ops, text, message):
    import_config(database, user, BOB)
    before = export_config(database, user)
    valid = '[[source]]\nname = "z"\naddress = "z@x.io"\n[[integration]]\naddress = "a@x.io"\n'
    with pytest.raises(ConfigFileError, match=message):
        import_config(database, user, text + valid)
    assert export_config(database, user) == before


def test_prune_deletes_users_the_file_leaves_out_only_when_it_lists_users(database, user, ops):
    import_config(database, user, BOB + '[[user]]\nname = "carol"\n')
    sources_only = '[[source]]\nname = "s"\naddress = "s@x.io"\n'
    assert not any(
        label.startswith("user")
        for label in import_config(database, user, sources_only, prune=True).pruned
    )
    assert [listed.name for listed in list_users(database, user)] == ["alice", "bob", "carol"]
    with pytest.raises(ConfigFileError, match=r"--prune would delete you \(alice\)"):
        import_config(database, user, sources_only + BOB, prune=True)
    alice = '[[user]]\nname = "alice"\npermissions = ["admin"]\n'
    report = import_config(database, user, sources_only + BOB + alice, prune=True)
    assert report.pruned == ("user carol",)
    assert [listed.name for listed in list_users(database, user)] == ["alice", "bob"]


def test_an_integration_may_be_owned_by_a_user_the_same_file_creates(database, user, ops):
    owned = BOB + '[[integration]]\naddress = "pager@example.com"\nowner = "bob"\n'
    report = import_config(database, user, owned)
    assert report.created == ("user bob", "integration pager@example.com")
