"""The source editor edits severity rules, the title rule and the heartbeat by keyboard, and its
preview shows the severity and title each sample mail would get (SPEC §11, §12)."""

from __future__ import annotations

from pathlib import Path

import tomli_w
from textual.widgets import Input

from app.core.configfile import import_config
from app.core.intake.mail import parse_mail
from app.core.intake.sources import list_sources
from app.ui.app import MailsirenApp
from app.ui.modals.condition_form import SeverityRuleFormModal
from app.ui.modals.key_rule_form import TitleRuleFormModal
from app.ui.screens.source_editor import SourceEditorScreen
from app.ui.screens.sources import SourcesScreen
from app.ui.widgets.preview_table import PreviewTable
from app.ui.widgets.rule_list import RuleList
from tests.mails import alert_mail
from tests.ui.pilot import settle
from tests.ui.test_source_editor import tab_to, text_of

CORPUS = Path(__file__).parents[1] / "fixtures" / "corpus"
NAGIOS = {
    "name": "nagios",
    "address": "nagios@alerts.example.com",
    "severity": "info",
    "creation": "by_key",
    "filter": [{"field": "subject", "op": "contains", "value": "Service Alert"}],
    "key_rule": [{"field": "subject", "extractor": "regex", "pattern": r"Alert: (\S+)/(.+) is"}],
    "resolve_rule": [{"field": "subject", "op": "contains", "value": "RECOVERY"}],
}


def column(app, key: str) -> list[str]:
    table = app.screen.query_one(PreviewTable)
    return [str(table.get_cell(str(row), key)) for row in range(1, table.row_count + 1)]


async def open_nagios_with_the_corpus(app, pilot) -> SourceEditorScreen:
    await pilot.press("2")
    await settle(app, pilot)
    await pilot.press("e")
    await settle(app, pilot)
    await pilot.press("ctrl+o")
    await settle(app, pilot)
    await pilot.press(*str(CORPUS), "enter")
    await settle(app, pilot)
    assert isinstance(app.screen, SourceEditorScreen)
    return app.screen


async def test_severity_rules_title_rule_and_heartbeat_by_keyboard_preview_and_save(workspace):
    import_config(workspace.database, workspace.user, tomli_w.dumps({"source": [NAGIOS]}))
    app = MailsirenApp(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        editor = await open_nagios_with_the_corpus(app, pilot)
        assert column(app, "severity")[:5] == ["i info"] * 4 + ["—"]  # the source's; 5: none

        await tab_to(pilot, "#severity-rules")
        await pilot.press("a")
        await settle(app, pilot)
        assert isinstance(app.screen, SeverityRuleFormModal)
        await pilot.press(*"CRITICAL")  # subject contains CRITICAL; the severity: alert
        await pilot.pause()
        assert "✓ holds: severity ‼ alert" in text_of(app, "#rule-trial")  # on mail 1
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is editor
        await pilot.press("a", *"WARNING")
        await tab_to(pilot, "#rule-severity")
        await pilot.press("enter", "down", "enter")  # alert → warning
        await pilot.pause()
        assert "✗ does not hold" in text_of(app, "#rule-trial")  # mail 1 is CRITICAL
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is editor
        rules = editor.query_one("#severity-rules", RuleList)
        assert [rule["severity"] for rule in rules.rules] == ["alert", "warning"]
        assert column(app, "severity")[:4] == ["‼ alert", "! warning", "‼ alert", "‼ alert"]
        assert column(app, "diff")[:4] == ["≠", "≠", "≠", "≠"]  # another severity than saved

        await tab_to(pilot, "#title-rule")
        await pilot.press("a")
        await settle(app, pilot)
        assert isinstance(app.screen, TitleRuleFormModal)
        await pilot.press(*r"Alert: \S+")
        await pilot.pause()
        assert "has no capture group: put the title in parentheses" in text_of(app, "#rule-check")
        await pilot.press("ctrl+u", *r"Alert: (\S+)/(.+) is")
        await pilot.pause()
        assert "title 'web01-Disk /var'" in text_of(app, "#rule-trial")
        await pilot.press("enter")
        await settle(app, pilot)
        assert column(app, "title")[:3] == ["web01-Disk /var", "db02-Load", "web01-Disk /var"]
        await pilot.press("a")  # one title rule: `a` edits it rather than adding a second
        await settle(app, pilot)
        assert isinstance(app.screen, TitleRuleFormModal)
        assert app.screen.query_one("#rule-pattern", Input).value == r"Alert: (\S+)/(.+) is"
        await pilot.press("escape")
        await settle(app, pilot)
        assert len(editor.query_one("#title-rule", RuleList).rules) == 1

        await tab_to(pilot, "#source-heartbeat")
        await pilot.press(*"20000")
        await settle(app, pilot)
        assert "Heartbeat minutes: 20000 is outside 1 to 10080" in text_of(app, "#heartbeat-error")
        assert "heartbeat_minutes 20000 is outside" in text_of(app, "#draft-problem")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is editor  # refused: not saved
        await pilot.press("ctrl+u", *"30")
        await settle(app, pilot)
        assert text_of(app, "#heartbeat-error") == ""
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, SourcesScreen)

        [saved] = list_sources(workspace.database)
        assert [(r.condition.value, r.severity) for r in saved.severity_rules] == [
            ("CRITICAL", "alert"),
            ("WARNING", "warning"),
        ]
        assert saved.title_rule.pattern == r"Alert: (\S+)/(.+) is"
        assert saved.heartbeat_minutes == 30

        await pilot.press("e")  # opened again: as saved, nothing to lose on leaving
        await settle(app, pilot)
        editor = app.screen
        assert editor.query_one("#source-heartbeat", Input).value == "30"
        assert len(editor.query_one("#severity-rules", RuleList).rules) == 2
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, SourcesScreen)


async def test_an_emptied_heartbeat_turns_it_off_and_a_removed_rule_is_gone(workspace):
    settings = {
        **NAGIOS,
        "heartbeat_minutes": 60,
        "severity_rule": [
            {"field": "subject", "op": "contains", "value": "x", "severity": "alert"}
        ],
        "title_rule": {"field": "subject", "extractor": "after", "start": "Alert: "},
    }
    import_config(workspace.database, workspace.user, tomli_w.dumps({"source": [settings]}))
    app = MailsirenApp(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_nagios_with_the_corpus(app, pilot)
        await tab_to(pilot, "#source-heartbeat")
        await pilot.press("ctrl+u")
        await tab_to(pilot, "#severity-rules")
        heartbeat = app.screen.query_one("#source-heartbeat", Input)
        assert not heartbeat.has_class("-invalid")  # empty is off, not drawn as a mistake
        await pilot.press("x")
        await tab_to(pilot, "#title-rule")
        await pilot.press("x")
        await settle(app, pilot)
        assert "✓ valid" in text_of(app, "#draft-problem")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, SourcesScreen)
    [saved] = list_sources(workspace.database)
    assert (saved.heartbeat_minutes, saved.severity_rules, saved.title_rule) == (0, (), None)


SAMPLE = alert_mail("** PROBLEM Service Alert: web01/Disk /var is CRITICAL **")


async def test_a_severity_rules_regex_is_checked_by_re2_as_typed_and_case_is_told(workspace):
    app = MailsirenApp(workspace, initial_mode="sources")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        rule = {"field": "subject", "op": "matches", "value": "", "severity": "warning"}
        kept = []
        app.push_screen(SeverityRuleFormModal(rule, parse_mail(SAMPLE), "#1"), kept.append)
        await settle(app, pilot)
        await pilot.press(*"is (CRIT")
        await pilot.pause()
        assert "missing ): is (CRIT" in text_of(app, "#rule-check")
        await pilot.press("enter")  # a wrong rule is not kept
        await pilot.pause()
        assert isinstance(app.screen, SeverityRuleFormModal)
        await pilot.press(*"ICAL)")
        await pilot.pause()
        assert "✓ holds: severity ! warning" in text_of(app, "#rule-trial")
        await pilot.press("ctrl+u", *"is critical")
        await tab_to(pilot, "#rule-case")
        await pilot.press("space")  # case-sensitive: "critical" is not "CRITICAL"
        await pilot.pause()
        assert "✗ does not hold" in text_of(app, "#rule-trial")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    assert kept == [
        {"field": "subject", "op": "matches", "value": "is critical", "case_sensitive": True,
         "severity": "warning"}
    ]  # fmt: skip


async def test_timeouts_are_kept_by_an_edit_and_edited_with_their_limits_said(workspace):
    """A source saved from a file with timeouts keeps them through the editor (it used to
    drop keys it had no field for), and a wrong value is named beside its field."""
    settings = {**NAGIOS, "ack_timeout_minutes": 240, "auto_resolve_minutes": 1440}
    import_config(workspace.database, workspace.user, tomli_w.dumps({"source": [settings]}))
    app = MailsirenApp(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_nagios_with_the_corpus(app, pilot)
        assert app.screen.query_one("#source-ack-timeout", Input).value == "240"
        await tab_to(pilot, "#source-auto-resolve")
        await pilot.press("ctrl+u", *"99999")
        await settle(app, pilot)
        assert "Auto-resolve minutes: 99999 is outside 1 to 43200" in text_of(
            app, "#auto-resolve-error"
        )
        await pilot.press("ctrl+u", *"60")
        await settle(app, pilot)
        assert text_of(app, "#auto-resolve-error") == ""
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [saved] = list_sources(workspace.database)
    assert (saved.ack_timeout_minutes, saved.auto_resolve_minutes) == (240, 60)
