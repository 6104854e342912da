"""Snapshot tests of the screens, at the sizes operators use (80×24 over SSH, 120×36)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.core.sending.personal import SmtpForm, save_preferences
from app.core.users import add_group, add_user, update_user
from app.ui.app import MailsirenApp
from tests.fixtures.notifications import with_notifications
from tests.mails import alert_mail
from tests.snapshots.conftest import SHARED_CONFIG
from tests.ui.pilot import settle as settle_app

FROZEN = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def with_shared_config(workspace):
    SHARED_CONFIG.write_text(  # in the test's folder, the current directory
        "[Shared-Mail-Config]\nServer = smtp.example.com\nPort = 25\nUsername = userman\n"
        "Password = `sneakypassword`\nUseTLS = true\nForce-From = `forced@example.com`\n"
        "Allowed-Group = ops\nAllowed-Group = dba\n"
        "Allowed-To = `[a-f0-9]+@example\\.com`\nAllowed-To = `[a-f0-9]+@example\\.io`\n"
    )
    add_group(workspace.database, workspace.user, "ops")
    add_group(workspace.database, workspace.user, "dba")


def with_saved_settings(workspace, **changes):
    values = dict(
        server="smtp.example.com",
        port="587",
        username="alice@example.com",
        password="secret",
        tls_mode="starttls",
        from_address="alice@example.com",
    )
    values.update(changes)
    save_preferences(workspace.database, workspace.user, SmtpForm(**values), clock=lambda: FROZEN)


async def settle(pilot) -> None:
    await settle_app(pilot.app, pilot)


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
def test_smtp_screen_with_saved_settings(snap_compare, workspace, size):
    with_saved_settings(workspace)
    app = MailsirenApp(workspace, initial_mode="smtp")
    assert snap_compare(app, terminal_size=size, run_before=settle)


def test_smtp_screen_warns_about_plaintext_credentials(snap_compare, workspace):
    with_saved_settings(workspace, tls_mode="none", port="25")
    app = MailsirenApp(workspace, initial_mode="smtp")
    assert snap_compare(app, terminal_size=(120, 36), run_before=settle)


def test_incidents_empty_state(snap_compare, workspace):
    assert snap_compare(MailsirenApp(workspace), terminal_size=(80, 24), run_before=settle)


def test_smtp_screen_with_the_shared_configuration(snap_compare, workspace):
    with_shared_config(workspace)
    update_user(workspace.database, workspace.user, "alice", groups=["ops"])
    app = MailsirenApp(workspace, initial_mode="smtp")
    assert snap_compare(app, terminal_size=(120, 36), run_before=settle)


def test_admin_screen(snap_compare, workspace):
    with_shared_config(workspace)
    add_user(workspace.database, workspace.user, "bob", email="bob@example.com",
             permissions=["view_connections", "triage"], groups=["ops"])  # fmt: skip
    add_user(workspace.database, workspace.user, "carol", groups=["ops", "dba"])
    app = MailsirenApp(workspace, initial_mode="admin")
    assert snap_compare(app, terminal_size=(120, 36), run_before=settle)


def with_incidents(workspace, monkeypatch):
    """Six incidents of two sources at fixed times, the clock frozen after them."""
    import tomli_w

    from app.core.configfile import import_config
    from app.core.incidents.views import change_state
    from app.core.intake.pipeline import ingest_mail

    monkeypatch.setattr("app.ui.display.now", lambda: FROZEN)
    document = {
        "source": [
            {"name": "nagios", "address": "nagios@alerts.example.com", "creation": "per_subject"},
            {"name": "grafana", "address": "grafana@alerts.example.com", "severity": "warning"},
        ]
    }
    import_config(workspace.database, workspace.user, tomli_w.dumps(document))
    alerts = [
        ("nagios", "** PROBLEM Service Alert: web01/Disk /var is CRITICAL **", 190),
        ("grafana", "[FIRING:1] HighLatency api (p99 > 2s)", 95),
        ("nagios", "** PROBLEM Service Alert: db02/Load is WARNING **", 42),
        ("nagios", "** PROBLEM Service Alert: web01/Disk /var is CRITICAL **", 30),
        ("nagios", "** PROBLEM Host Alert: edge03 is DOWN **", 12),
        ("grafana", "[FIRING:2] [/x] markup-looking subject, shown as typed", 3),
    ]
    for number, (source, subject, minutes) in enumerate(alerts):
        raw = alert_mail(
            subject, f"{subject}\nHost: web01\nState: CRITICAL",
            sender=f"{source}@mon.example.net", to=f"{source}@alerts.example.com",
            message_id=f"<{number}@mon.example.net>",
        )  # fmt: skip
        moment = FROZEN - timedelta(minutes=minutes)
        ingest_mail(
            workspace.database, raw, [f"{source}@alerts.example.com"], via="smtp",
            clock=lambda moment=moment: moment,
        )  # fmt: skip
    change_state(workspace.database, workspace.user, "accept", [2], clock=lambda: FROZEN)


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
def test_incident_log(snap_compare, workspace, monkeypatch, size):
    with_incidents(workspace, monkeypatch)
    assert snap_compare(MailsirenApp(workspace), terminal_size=size, run_before=settle)


def test_incident_detail(snap_compare, workspace, monkeypatch):
    with_incidents(workspace, monkeypatch)

    async def open_detail(pilot) -> None:
        await settle(pilot)
        await pilot.press("G", "enter")  # the oldest: web01's disk, with two mails
        await settle(pilot)

    assert snap_compare(MailsirenApp(workspace), terminal_size=(120, 36), run_before=open_detail)


NAGIOS_SOURCE = {
    "name": "nagios",
    "address": "nagios@alerts.example.com",
    "creation": "by_key",
    "filter": [{"field": "subject", "op": "contains", "value": "Service Alert"}],
    "key_rule": [{"field": "subject", "extractor": "regex", "pattern": r"Alert: (\S+)/(.+) is"}],
    "resolve_rule": [{"field": "subject", "op": "contains", "value": "RECOVERY"}],
}


# SPEC §11, §12: CRITICAL pages as alert, WARNING as warning, the rest as the source's info.
NAGIOS_WITH_SEVERITY = {
    **NAGIOS_SOURCE,
    "severity": "info",
    "heartbeat_minutes": 60,
    "severity_rule": [
        {"field": "subject", "op": "contains", "value": "CRITICAL", "severity": "alert"},
        {"field": "subject", "op": "matches", "value": r"\bWARNING\b", "severity": "warning"},
    ],
    "title_rule": {"field": "subject", "extractor": "regex", "pattern": r"Alert: (\S+ is \S+)"},
}


def with_nagios_mails(workspace, monkeypatch, source: dict | None = NAGIOS_SOURCE):
    """The Nagios source (None: saved already) and the corpus's five Nagios mails, at fixed
    times."""
    from app.core.intake.pipeline import ingest_mail
    from app.core.intake.sources import save_source

    monkeypatch.setattr("app.ui.display.now", lambda: FROZEN)
    if source is not None:
        save_source(workspace.database, workspace.user, source, clock=lambda: FROZEN)
        save_source(
            workspace.database,
            workspace.user,
            {"name": "zabbix", "address": "zabbix@alerts.example.com", "enabled": False},
            clock=lambda: FROZEN,
        )
    corpus = Path(__file__).parents[1] / "fixtures" / "corpus"
    for number, path in enumerate(sorted(corpus.glob("0[1-5]-nagios-*.eml"))):
        moment = FROZEN - timedelta(minutes=40 - 7 * number)
        ingest_mail(
            workspace.database, path.read_bytes(), ["nagios@alerts.example.com"], via="smtp",
            clock=lambda moment=moment: moment,
        )  # fmt: skip


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
def test_sources_list(snap_compare, workspace, monkeypatch, size):
    with_nagios_mails(workspace, monkeypatch)
    app = MailsirenApp(workspace, initial_mode="sources")
    assert snap_compare(app, terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
def test_source_editor_new(snap_compare, workspace, size):
    async def open_editor(pilot) -> None:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)

    app = MailsirenApp(workspace, initial_mode="sources")
    assert snap_compare(app, terminal_size=size, run_before=open_editor)


def test_source_preview_shows_what_an_edit_changes(snap_compare, workspace, monkeypatch):
    """The recovery rule removed: the two recovery mails differ from the saved rules."""
    with_nagios_mails(workspace, monkeypatch)

    async def remove_the_resolve_rule(pilot) -> None:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        pilot.app.screen.query_one("#resolve-rules").focus()
        await pilot.press("x")
        await settle(pilot)
        pilot.app.screen.query_one("#preview").focus()
        await pilot.press("j", "j", "j")
        await settle(pilot)

    app = MailsirenApp(workspace, initial_mode="sources")
    assert snap_compare(app, terminal_size=(120, 36), run_before=remove_the_resolve_rule)


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
def test_source_editor_severity_rules_and_title(snap_compare, workspace, monkeypatch, size):
    """The WARNING mail selected: its severity and title in the table and the detail; the
    severity rules in sight on the left."""
    with_nagios_mails(workspace, monkeypatch, NAGIOS_WITH_SEVERITY)

    async def select_the_warning(pilot) -> None:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        pilot.app.screen.query_one("#preview").focus()
        await pilot.press("j")
        await settle(pilot)
        pilot.app.screen.query_one("#severity-rules").focus()
        await settle(pilot)

    app = MailsirenApp(workspace, initial_mode="sources")
    assert snap_compare(app, terminal_size=size, run_before=select_the_warning)


def test_severity_rule_form_at_80x24(snap_compare, workspace, monkeypatch):
    """The WARNING rule, tried on the WARNING mail: the form fits 80x24."""
    with_nagios_mails(workspace, monkeypatch, NAGIOS_WITH_SEVERITY)

    async def edit_the_warning_rule(pilot) -> None:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        pilot.app.screen.query_one("#preview").focus()
        await pilot.press("j")
        await settle(pilot)
        pilot.app.screen.query_one("#severity-rules").focus()
        await pilot.press("j", "e")
        await settle(pilot)

    app = MailsirenApp(workspace, initial_mode="sources")
    assert snap_compare(app, terminal_size=(80, 24), run_before=edit_the_warning_rule)


def test_source_mail_log(snap_compare, workspace, monkeypatch):
    with_nagios_mails(workspace, monkeypatch)

    async def open_log(pilot) -> None:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)

    app = MailsirenApp(workspace, initial_mode="sources")
    assert snap_compare(app, terminal_size=(120, 36), run_before=open_log)


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
def test_integrations_with_delivery_health(snap_compare, workspace, monkeypatch, size):
    monkeypatch.setattr("app.ui.display.now", lambda: FROZEN)
    with_notifications(workspace, FROZEN)
    app = MailsirenApp(workspace, initial_mode="integrations")
    assert snap_compare(app, terminal_size=size, run_before=settle)


def test_delivery_log_with_a_failure_selected(snap_compare, workspace, monkeypatch):
    monkeypatch.setattr("app.ui.display.now", lambda: FROZEN)
    with_notifications(workspace, FROZEN)

    async def open_log(pilot) -> None:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("G", "k", "k")  # the first incident's failed delivery (#3)
        await settle(pilot)

    app = MailsirenApp(workspace, initial_mode="integrations")
    assert snap_compare(app, terminal_size=(120, 36), run_before=open_log)


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
def test_silences(snap_compare, workspace, monkeypatch, size):
    """One silence holding nagios's incidents, one for every source to come tonight."""
    from app.core.incidents.silences import add_silence
    from app.core.intake.sources import save_source

    save_source(workspace.database, workspace.user, NAGIOS_SOURCE, clock=lambda: FROZEN)
    for starts, hours, source, reason in (
        (-50, 2, "nagios", "database upgrade on db01"),
        (600, 3, None, "datacenter network maintenance"),
    ):
        add_silence(
            workspace.database, workspace.user, source=source, reason=reason,
            starts_at=FROZEN + timedelta(minutes=starts),
            ends_at=FROZEN + timedelta(minutes=starts, hours=hours),
            clock=lambda: FROZEN - timedelta(hours=1),
        )  # fmt: skip
    with_nagios_mails(workspace, monkeypatch, source=None)

    async def open_silences(pilot) -> None:
        await settle(pilot)
        await pilot.press("z")
        await settle(pilot)

    app = MailsirenApp(workspace, initial_mode="incidents")
    assert snap_compare(app, terminal_size=size, run_before=open_silences)


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
def test_silence_form(snap_compare, workspace, monkeypatch, size):
    """`z` on nagios, a reason typed and "until 18:00": the end it reads is shown before saving."""
    from app.core.intake.sources import save_source

    save_source(workspace.database, workspace.user, NAGIOS_SOURCE, clock=lambda: FROZEN)
    monkeypatch.setattr("app.ui.display.now", lambda: FROZEN)

    async def open_form(pilot) -> None:
        await settle(pilot)
        await pilot.press("z")
        await settle(pilot)
        await pilot.press(*"db01 upgrade", "shift+tab", "ctrl+a", "ctrl+k", *"until 18:00")
        await settle(pilot)

    app = MailsirenApp(workspace, initial_mode="sources")
    assert snap_compare(app, terminal_size=size, run_before=open_form)
