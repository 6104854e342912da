"""Tab in the forms stops only on fields, buttons and lists: never on a container, where typed
text would reach the app's keys (`1` switches screens, `q` quits)."""

from __future__ import annotations

from textual.widgets import Button, Checkbox, DataTable, Input, Select

from app.ui.app import MailsirenApp
from app.ui.modals.user_form import UserFormModal
from app.ui.screens.source_editor import SourceEditorScreen
from tests.ui.pilot import settle

FIELD_TYPES = (Input, Select, Checkbox, Button, DataTable)  # RuleList, PreviewTable: tables


async def tab_round(pilot, key: str = "tab") -> list:
    """Every widget one round of `key` stops on, from the focused one back to it."""
    start, stops = pilot.app.focused, []
    for _ in range(40):
        await pilot.press(key)
        if pilot.app.focused is start:
            return stops
        stops.append(pilot.app.focused)
    raise AssertionError(f"{key} never came back to {start}: {stops}")


async def test_tab_in_the_source_editor_never_stops_on_a_container(workspace):
    app = MailsirenApp(workspace, initial_mode="sources")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        assert isinstance(app.screen, SourceEditorScreen)
        assert app.focused.id == "source-name"
        for key in ("tab", "shift+tab"):
            stops = await tab_round(pilot, key)
            others = [w for w in stops if not isinstance(w, FIELD_TYPES)]
            assert others == [], f"{key} stops on {others}"
        await pilot.press(*"nagios1")  # still in Name: `1` is text, not the incident log
        assert isinstance(app.screen, SourceEditorScreen)
        assert app.screen.query_one("#source-name").value == "nagios1"


async def test_tab_in_the_user_form_never_stops_on_its_scrolling_frame(workspace):
    app = MailsirenApp(workspace, initial_mode="admin")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        assert isinstance(app.screen, UserFormModal)
        stops = await tab_round(pilot)
        others = [w for w in stops if not isinstance(w, FIELD_TYPES)]
        assert others == [] and stops, f"tab stops on {others}"
