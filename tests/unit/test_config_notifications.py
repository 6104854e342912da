"""`config import|export` of [org], [[escalation_policy]] and [[integration]] (SPEC §7; the
example is the SPEC's, without [[user]] and the source's rules)."""

from __future__ import annotations

import pytest

from app.core.configfile import ConfigFileError, export_config, import_config
from app.core.incidents.escalation import list_policies
from app.core.notifications.integrations import list_integrations
from app.core.notifications.org import load_org
from app.core.users import PermissionDenied, add_user

EXAMPLE = """
[org]
internal_domains = ["example.com"]
notify_on = ["incident_opened", "incident_resolved", "incident_escalated"]

[[escalation_policy]]
name = "ops"
repeat = 0
[[escalation_policy.step]]
targets = ["oncall@example.com"]
delay_minutes = 0

[[source]]
name = "nagios"
address = "nagios@alerts.example.com"
severity = "alert"
escalation_policy = "ops"

[[integration]]
address = "ops@example.com"
level = "alert"
frequency = "instant"
"""


def test_the_spec_example_imports_and_exports_the_same(database, user):
    report = import_config(database, user, EXAMPLE)
    assert report.created == (
        "escalation_policy ops", "source nagios", "integration ops@example.com",
    )  # fmt: skip
    assert report.warnings == ()  # ops@example.com is internal
    assert load_org(database).internal_domains == ("example.com",)
    [policy] = list_policies(database)
    assert policy.spec.steps[0].targets == ("oncall@example.com",) and policy.used_by == ("nagios",)
    [integration] = list_integrations(database, user)
    assert (integration.address, integration.level, integration.owner) == (
        "ops@example.com",
        "alert",
        "alice",
    )
    exported = export_config(database)
    again = import_config(database, user, exported)
    assert again.created == () and export_config(database) == exported


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[org]\nnotify_on = ["incident_exploded"]\n', "notify_on: 'incident_exploded' is not"),
        ('[org]\ninternal_domains = ["exa mple.com"]\n', "internal_domains"),
        ('[org]\nstorm_limit = 0\n', "storm_limit must be a whole number from 1"),
        ('[org]\nretention_days = -1\n', r"\[org\]: retention_days must be a whole number of days from 0 .* not -1"),
        ('[org]\nretention_days = "30d"\n', r"\[org\]: retention_days .* not '30d'"),
        ('[org]\nretention_days = 1.5\n', r"\[org\]: retention_days .* not 1.5"),
        ('[[escalation_policy]]\nname = "ops"\n', r"\[\[escalation_policy\]\] 1 \(ops\): needs at least one"),
        ('[[escalation_policy]]\nname = "ops"\n[[escalation_policy.step]]\ntargets = []\n', "step 1: targets"),
        ('[[integration]]\naddress = "a@example.com"\nlevel = "loud"\n', r"\[\[integration\]\] 1 \(a@example.com\): level"),
        ('[[integration]]\naddress = "a@example.com"\n[[integration]]\naddress = "A@example.com"\n', "already used"),
        ('[[source]]\nname = "s"\naddress = "s@x.io"\nescalation_policy = "nope"\n', "'nope' does not exist"),
        ('[[integration]]\naddress = "a@example.com"\nowner = "ghost"\n', "owner 'ghost' is not"),
    ],
)  # fmt: skip
def test_a_wrong_entry_is_named_and_nothing_changes(database, user, text, message):
    import_config(database, user, EXAMPLE)
    before = export_config(database)
    with pytest.raises(ConfigFileError, match=message):
        import_config(database, user, text)
    assert export_config(database) == before


def test_org_settings_need_admin_and_external_addresses_are_warned(database, user):
    bob = add_user(database, user, "bob", permissions=["edit_connections", "view_connections"])
    with pytest.raises(PermissionDenied, match="admin"):
        import_config(database, bob, '[org]\ninternal_domains = ["corp.example"]\n')
    report = import_config(database, bob, '[[integration]]\naddress = "me@gmail.com"\n')
    assert "outside the internal domains" in report.warnings[0]


def test_prune_removes_integrations_and_policies_the_file_leaves_out(database, user):
    import_config(database, user, EXAMPLE)
    import_config(database, user, EXAMPLE.replace("ops@example.com", "noc@example.com"))
    assert len(list_integrations(database, user)) == 2
    report = import_config(
        database, user, EXAMPLE.replace("ops@example.com", "noc@example.com"), prune=True
    )
    assert report.pruned == ("integration ops@example.com (#1)",)


def test_retention_days_imports_and_exports(database, user):
    assert "retention_days = 0" in export_config(database)  # the default: keep forever
    import_config(database, user, "[org]\nretention_days = 90\n")
    assert load_org(database).retention_days == 90
    exported = export_config(database)
    assert "retention_days = 90" in exported
    import_config(database, user, exported)
    assert export_config(database) == exported
