"""Alert sources by keyboard alone: create one from nothing, preview its rules, save, receive."""

from __future__ import annotations

from pathlib import Path

import tomli_w
from textual.widgets import Input, Static

from app.core.configfile import import_config
from app.core.intake.pipeline import ingest_mail
from app.core.intake.sources import list_sources
from app.ui.app import MailsirenApp
from app.ui.modals.confirm import ConfirmModal
from app.ui.modals.key_rule_form import KeyRuleFormModal
from app.ui.screens.source_editor import SourceEditorScreen
from app.ui.screens.sources import SourcesScreen
from app.ui.widgets.preview_table import PreviewTable
from app.ui.widgets.sources_table import SourcesTable
from tests.ui.pilot import settle

CORPUS = Path(__file__).parents[1] / "fixtures" / "corpus"
ADDRESS = "nagios@alerts.example.com"


async def tab_to(pilot, selector: str) -> None:
    """Press tab until the widget has focus, as a person would (at most 30 presses)."""
    for _ in range(30):
        if (
            pilot.app.focused is not None
            and pilot.app.focused.is_on_screen
            and pilot.app.focused in pilot.app.screen.query(selector)
        ):
            return
        await pilot.press("tab")
    raise AssertionError(f"tab never reached {selector}; focus is on {pilot.app.focused}")


def edited_column(app) -> list[str]:
    table = app.screen.query_one(PreviewTable)
    return [str(table.get_row_at(index)[2]) for index in range(table.row_count)]


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_a_nagios_source_created_by_keyboard_lands_mails_as_previewed(workspace):
    app = MailsirenApp(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("2")
        await settle(app, pilot)
        assert isinstance(app.screen, SourcesScreen) and app.screen.has_class("-empty")
        await pilot.press("n")
        await settle(app, pilot)
        editor = app.screen
        assert isinstance(editor, SourceEditorScreen)
        assert "no sample mails yet" in text_of(app, "#preview-header")

        await pilot.press(*"nagios", "tab", *"nagios@alerts")
        await settle(app, pilot)
        assert "lacks the @domain part" not in text_of(app, "#address-error")
        assert "'nagios@alerts' is not a valid domain" not in text_of(app, "#address-error")
        await pilot.press(*".example.com")
        await tab_to(pilot, "#source-creation")
        await pilot.press("enter", "down", "down", "down", "down", "enter")  # per_email → by_key
        await settle(app, pilot)
        assert "by a key" in text_of(app, "#creation-help")
        assert "needs at least one [[source.key_rule]]" in text_of(app, "#draft-problem")

        await pilot.press("ctrl+o")
        await settle(app, pilot)
        await pilot.press(*str(CORPUS), "enter")
        await settle(app, pilot)

        await tab_to(pilot, "#filters")
        await pilot.press("a", *"Service Alert", "enter")  # subject contains "Service Alert"
        await settle(app, pilot)

        await tab_to(pilot, "#key-rules")
        await pilot.press("a")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, KeyRuleFormModal)
        await pilot.press(*r"Alert: (\S+)/(.+")
        await pilot.pause()
        assert "missing ): Alert: (\\S+)/(.+" in text_of(app, "#rule-check")  # RE2's own reason
        await pilot.press(*r") is [A-Z]+")
        await pilot.pause()
        assert "✓ valid" in text_of(app, "#rule-check")
        assert "key 'web01-Disk /var'" in text_of(app, "#rule-trial")  # on row 1, the problem
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is editor

        assert edited_column(app)[:5] == [
            "created ▸1",
            "created ▸2",
            "appended ▸1",
            "appended ▸1",  # no resolve rule yet: the recovery joins the problem
            "created ▸5",
        ]
        assert edited_column(app)[5:] == ["filtered"] * 5 + ["loop"]  # 11 is an auto-reply

        await tab_to(pilot, "#resolve-rules")
        await pilot.press("a", *"RECOVERY", "enter")
        await settle(app, pilot)
        assert edited_column(app)[:5] == [
            "created ▸1",
            "created ▸2",
            "appended ▸1",
            "resolved ▸1",  # the preview changed: the recovery mail resolves incident 1
            "orphan_resolve",
        ]
        assert "✓ valid" in text_of(app, "#draft-problem")

        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, SourcesScreen)
        table = app.screen.query_one(SourcesTable)
        assert table.selected_key == "nagios"

    [spec] = list_sources(workspace.database)
    assert (spec.name, spec.address, spec.creation) == ("nagios", ADDRESS, "by_key")
    landed = []
    for name in sorted(CORPUS.glob("0[1-5]-nagios-*.eml")):
        [outcome] = ingest_mail(
            workspace.database, name.read_bytes(), [ADDRESS], via="smtp"
        ).outcomes
        landed.append((outcome.outcome, outcome.incident_id))
    first, second = landed[0][1], landed[1][1]
    assert landed == [
        ("created", first),
        ("created", second),
        ("appended", first),
        ("resolved", first),
        ("orphan_resolve", None),
    ]


async def test_leaving_with_changes_asks_and_a_wrong_rule_cannot_be_saved(workspace):
    document = {"source": [{"name": "zabbix", "address": "zabbix@alerts.example.com"}]}
    import_config(workspace.database, workspace.user, tomli_w.dumps(document))
    app = MailsirenApp(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("2")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, SourceEditorScreen)
        field = app.screen.query_one("#source-name", Input)
        assert field.value == "zabbix"
        await pilot.press("ctrl+u", *"nagios")  # a rename
        await tab_to(pilot, "#source-address")
        await pilot.press("ctrl+u", *"not an address")
        await settle(app, pilot)
        assert "is not a plain address" in text_of(app, "#address-error")
        assert "is not a plain address" in text_of(app, "#draft-problem")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, SourceEditorScreen)  # not saved, still editing
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(app, pilot)
        assert isinstance(app.screen, SourcesScreen)
    assert [spec.name for spec in list_sources(workspace.database)] == ["zabbix"]
