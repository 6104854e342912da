"""`mailsiren config import|export` as a person runs them: real processes, a real database;
here the [[user]] entries (SPEC §7), which an administrator imports and exports."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

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


CORPUS = Path(__file__).parents[1] / "fixtures" / "corpus"
NAGIOS_WITH_SAMPLES = """
[[source]]
name = "nagios"
address = "nagios@alerts.example.com"
creation = "by_key"
[[source.key_rule]]
field = "subject"
extractor = "regex"
pattern = 'Service Alert: (\\S+)/(.+) is [A-Z]+'
[[source.resolve_rule]]
field = "subject"
op = "contains"
value = "RECOVERY"
[[source.sample]]
file = "mails/01-nagios-problem-disk.eml"
expect_outcome = "created"
expect_key = "web01-Disk /var"
[[source.sample]]
file = "mails/04-nagios-recovery-disk.eml"
expect_outcome = "resolved"
"""


def test_config_check_runs_the_samples_and_import_refuses_a_file_whose_samples_fail(tmp_path):
    (tmp_path / "mails").mkdir()
    for name in ("01-nagios-problem-disk.eml", "04-nagios-recovery-disk.eml"):
        shutil.copy(CORPUS / name, tmp_path / "mails" / name)
    path = tmp_path / "nagios.toml"
    path.write_text(NAGIOS_WITH_SAMPLES)
    passing = mailsiren("config", "check", str(path))
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "PASS  source 'nagios', sample 2 (04-nagios-recovery-disk.eml): resolved" in (
        passing.stdout
    )
    assert "2 samples: 2 passed, 0 failed" in passing.stdout

    failing_file = tmp_path / "broken.toml"  # the resolve rule lost: the recovery appends
    failing_file.write_text(NAGIOS_WITH_SAMPLES.replace('value = "RECOVERY"', 'value = "NEVER"'))
    failing = mailsiren("config", "check", str(failing_file))
    assert failing.returncode == 1 and "Traceback" not in failing.stderr
    assert "FAIL  source 'nagios', sample 2 (04-nagios-recovery-disk.eml): appended" in (
        failing.stdout
    )
    assert "outcome: expected 'resolved', got 'appended'" in failing.stdout
    assert "2 samples: 1 passed, 1 failed" in failing.stdout
    checked = json.loads(mailsiren("config", "check", str(failing_file), "--json").stdout)
    assert (checked["passed"], checked["failed"]) == (1, 1)

    refused = mailsiren("config", "import", str(failing_file))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "source 'nagios', sample 2 (04-nagios-recovery-disk.eml)" in refused.stderr
    assert f"mailsiren config check {failing_file}" in refused.stderr
    assert mailsiren_json("sources", "list") == []

    imported = mailsiren("config", "import", str(path))
    assert imported.returncode == 0, imported.stderr
    shown = mailsiren("sources", "show", "nagios")  # the samples, listed with what they expect
    assert "# samples (2;" in shown.stdout
    assert "expect_outcome 'created', expect_key 'web01-Disk /var'" in shown.stdout
    [first, second] = mailsiren_json("sources", "show", "nagios", "--json")["samples"]
    assert "web01/Disk /var is CRITICAL" in first["subject"] and first["size"] > 0
    assert second["expect"] == {"expect_outcome": "resolved"}
    exported = mailsiren("config", "export")
    copy = tmp_path / "exported.toml"  # its samples are inline: no mails/ beside it
    copy.write_text(exported.stdout)
    assert "file =" not in exported.stdout and 'raw = """' in exported.stdout
    again = mailsiren("config", "check", str(copy))
    assert again.returncode == 0 and "2 samples: 2 passed" in again.stdout, again.stdout
    raws = [sample["raw"] for sample in tomllib.loads(exported.stdout)["source"][0]["sample"]]
    assert [raw.encode() for raw in raws] == [
        (CORPUS / "01-nagios-problem-disk.eml").read_bytes(),
        (CORPUS / "04-nagios-recovery-disk.eml").read_bytes(),
    ]

    path.write_text(NAGIOS_WITH_SAMPLES.replace('"resolved"', '"opend"'))
    invalid = mailsiren("config", "check", str(path))
    assert invalid.returncode == 1
    assert "sample 2: expect_outcome 'opend' is not an outcome" in invalid.stderr
    assert mailsiren("config", "check").returncode == 2  # no FILE: usage
