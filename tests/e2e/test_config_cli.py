"""`mailsiren config import|export` as a person runs them: real processes, a real database;
here the [[user]] entries (SPEC §7), which an administrator imports and exports."""

from __future__ import annotations

import tomllib

from tests.e2e.process import mailsiren, mailsiren_json

USERS = """
[[user]]
name = "bob"
email = "bob@example.com"
groups = ["ops"]
permissions = ["view_connections", "triage"]
"""


def test_users_import_export_round_trip_and_a_wrong_file_changes_nothing(tmp_path):
    assert mailsiren("groups", "add", "ops").returncode == 0  # the first user: an administrator
    path = tmp_path / "users.toml"
    path.write_text(USERS)
    imported = mailsiren("config", "import", str(path))
    assert imported.returncode == 0, imported.stderr
    assert "created: user bob" in imported.stdout and "warning" not in imported.stderr
    bob = mailsiren_json("users", "show", "bob")
    assert (bob["email"], bob["groups"], bob["permissions"]) == (
        "bob@example.com",
        ["ops"],
        ["view_connections", "triage"],
    )

    exported = mailsiren("config", "export")
    assert exported.returncode == 0, exported.stderr
    users = {entry["name"]: entry for entry in tomllib.loads(exported.stdout)["user"]}
    assert users["bob"]["email"] == "bob@example.com" and len(users) == 2  # bob and the admin
    path.write_text(exported.stdout)
    again = mailsiren("config", "import", str(path))
    assert again.returncode == 0 and "created" not in again.stdout, again.stdout + again.stderr
    assert "user bob" in again.stdout
    assert mailsiren("config", "export").stdout == exported.stdout

    before = mailsiren_json("users", "list")
    path.write_text(USERS + '[[user]]\nname = "carol"\ngroups = ["nope"]\n')
    refused = mailsiren("config", "import", str(path))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "[[user]] 2 (carol): groups: no group 'nope'" in refused.stderr
    assert "mailsiren groups add nope" in refused.stderr
    assert mailsiren_json("users", "list") == before


def test_a_user_who_is_not_an_administrator_exports_no_users_and_cannot_import_them(tmp_path):
    assert mailsiren("groups", "add", "ops").returncode == 0
    path = tmp_path / "users.toml"
    path.write_text(USERS.replace('"triage"', '"edit_connections"'))
    assert mailsiren("config", "import", str(path)).returncode == 0
    exported = mailsiren("config", "export", login="bob")
    assert exported.returncode == 0 and "[[user]]" not in exported.stdout
    assert "exporting users needs the 'admin' permission" in exported.stderr
    path.write_text(USERS.replace('"triage"', '"admin"'))
    refused = mailsiren("config", "import", str(path), login="bob")
    assert refused.returncode == 1 and "'admin' permission" in refused.stderr
    assert mailsiren_json("users", "show", "bob")["permissions"] == [
        "view_connections",
        "edit_connections",
    ]
