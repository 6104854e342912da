"""`config import|export` of [[schedule]] with its rotation and [[schedule.override]] (SPEC §18):
a round trip, and each wrong entry refused naming the entry and key, nothing imported."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime

import pytest

from app.core.configfile import ConfigFileError, export_config, import_config
from app.core.incidents.schedules import list_schedules
from app.core.users import add_user

SCHEDULES = """
[[schedule]]
name = "primary"
time_zone = "Europe/Berlin"
rotation = { users = ["ann", "bob"], length = "1w", handoff = "2026-12-07T09:00" }

[[schedule.override]]
user = "dave"
starts_at = 2030-12-09T08:00:00Z
ends_at = 2030-12-09T20:00:00Z
"""


@pytest.fixture
def team(database, user):
    for name in ("ann", "bob", "dave"):
        add_user(database, user, name, email=f"{name}@x.example")


def test_a_schedule_imports_exports_and_imports_again_the_same(database, user, team):
    report = import_config(database, user, SCHEDULES)
    assert report.created == ("schedule primary",)
    [spec] = list_schedules(database)
    assert (spec.time_zone, spec.users, spec.length, spec.handoff) == (
        "Europe/Berlin", ("ann", "bob"), "1w", "2026-12-07T09:00",
    )  # fmt: skip
    assert spec.overrides[0].starts_at == datetime(2030, 12, 9, 8, tzinfo=UTC)
    exported = export_config(database, user)
    assert tomllib.loads(exported)["schedule"] == tomllib.loads(SCHEDULES)["schedule"]
    assert "schedule primary" in import_config(database, user, exported).updated
    assert export_config(database, user) == exported


def test_prune_removes_a_schedule_the_file_leaves_out(database, user, team):
    import_config(database, user, SCHEDULES)
    report = import_config(database, user, "[org]\n", prune=True)
    assert "schedule primary" in report.pruned and list_schedules(database) == []


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('"ann", "bob"', '"ann", "zed"',
         r"\[\[schedule\]\] 1 \(primary\): rotation.users: 'zed' is not a mailsiren user"),
        ('users = ["ann", "bob"]', "users = []",
         r"\[\[schedule\]\] 1 \(primary\): rotation.users: must be a non-empty list"),
        ('"Europe/Berlin"', '"Europe/Atlantis"',
         r"\[\[schedule\]\] 1 \(primary\): time_zone: 'Europe/Atlantis' is not an IANA"),
        ('length = "1w"', 'length = "weekly"',
         r"\[\[schedule\]\] 1 \(primary\): rotation.length: 'weekly' is not a shift length"),
        ("ends_at = 2030-12-09T20:00:00Z", "ends_at = 2030-12-09T07:00:00Z",
         r"\[\[schedule\]\] 1 \(primary\): override 1: ends_at \(2030-12-09T07:00:00Z\) is not "
         r"after starts_at"),
        ('user = "dave"', 'user = "zed"',
         r"\[\[schedule\]\] 1 \(primary\): override.user: 'zed' is not a mailsiren user"),
    ],
)  # fmt: skip
def test_a_wrong_schedule_is_refused_naming_entry_and_key(database, user, team, old, new, message):
    assert old in SCHEDULES
    with pytest.raises(ConfigFileError, match=message):
        import_config(database, user, SCHEDULES.replace(old, new))
    assert list_schedules(database) == []


POLICY = """
[[escalation_policy]]
name = "ops"
[[escalation_policy.step]]
targets = ["schedule:primary"]
delay_minutes = 0
"""


def test_a_policy_may_target_a_schedule_of_the_same_file_but_not_an_unknown_one(
    database, user, team
):
    with pytest.raises(
        ConfigFileError, match=r"escalation policy ops: step 1: no schedule 'primary'"
    ):
        import_config(database, user, POLICY)
    report = import_config(database, user, SCHEDULES + POLICY)
    assert report.created == ("schedule primary", "escalation_policy ops")
    assert 'targets = [\n    "schedule:primary",\n]' in export_config(database, user)
