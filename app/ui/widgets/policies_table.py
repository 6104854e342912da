"""Escalation policies: their steps in words, which sources use them, what runs now."""

from __future__ import annotations

from rich.text import Text

from app.core.incidents.escalation import PolicyView
from app.ui.widgets.keyed_table import KeyedTable

COLUMNS = (
    ("name", "Policy"),
    ("steps", "Steps"),
    ("repeat", "Repeat"),
    ("sources", "Used by"),
    ("running", "Escalating now"),
)


class PoliciesTable(KeyedTable):
    TITLE = "Escalation policies"
    KEYED_COLUMNS = COLUMNS

    def show(self, views: list[PolicyView]) -> None:
        self.replace_rows(self._row(view) for view in views)

    @staticmethod
    def _row(view: PolicyView) -> tuple[str, tuple[Text, ...]]:
        spec = view.spec
        return spec.name, (
            Text(spec.name, style="bold"),
            Text(
                " → ".join(
                    f"{step.delay_minutes}m: {', '.join(step.targets)}" for step in spec.steps
                )
            ),
            Text(f"{spec.repeat}×" if spec.repeat else "no"),
            Text(", ".join(view.used_by) or "(no source)"),
            Text(f"{view.running:,}", justify="right"),
        )
