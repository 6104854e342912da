"""The key rule form says what is wrong with a pattern in the pattern's own characters."""

from __future__ import annotations

from textual.widgets import Static

from app.core.intake.mail import parse_mail
from app.ui.app import MailsirenApp
from app.ui.modals.key_rule_form import KeyRuleFormModal
from tests.ui.pilot import settle

SAMPLE = b"From: nagios@example.com\r\nSubject: Alert: C:\\disk is full\r\n\r\nbody\r\n"


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_a_pattern_without_a_capture_group_is_shown_as_typed(workspace):
    app = MailsirenApp(workspace, initial_mode="sources")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        app.push_screen(KeyRuleFormModal(None, parse_mail(SAMPLE), "#1"))
        await settle(app, pilot)
        await pilot.press(*r"Alert: \S+ is")
        await pilot.pause()
        check = text_of(app, "#rule-check")
        assert r"pattern `Alert: \S+ is` has no capture group" in check, check
        assert "\\\\" not in check, "no backslash is doubled"
        await pilot.press("home", "right", "right", "right", "right", "right", "right", "right")
        await pilot.press("(", "end", "left", "left", "left", ")")  # Alert: (\S+) is
        await pilot.pause()
        assert "✓ valid" in text_of(app, "#rule-check")
        trial = text_of(app, "#rule-trial")
        assert "key 'C:\\disk'" in trial and "\\\\" not in trial, trial
