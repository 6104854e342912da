"""A filter or resolve condition: field, operator, value, case; regexes checked by RE2 as typed.
A severity rule is the same condition and the severity it gives."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Checkbox, Input, Select

from app.core.intake.mail import ParsedMail
from app.core.intake.rules import (
    FIELDS,
    OPS,
    Condition,
    SeverityRule,
    field_text,
    parse_condition,
    parse_severity_rule,
)
from app.core.names import SEVERITIES
from app.ui.display import severity_text, short
from app.ui.modals.rule_form import RuleFormModal
from app.ui.widgets.form_row import choice_select, form_row

HEADER = "header:"


class ConditionFormModal(RuleFormModal):
    TITLE = "condition"

    def compose_fields(self) -> ComposeResult:
        field = self.rule.get("field", "subject")
        is_header = field.startswith(HEADER)
        choices = [(name, name) for name in FIELDS] + [("a header…", HEADER)]
        yield form_row(
            "Field", choice_select(choices, HEADER if is_header else field, id="rule-field")
        )
        yield form_row(
            "Header",
            Input(
                field.removeprefix(HEADER) if is_header else "",
                placeholder="its name, e.g. X-Nagios-State",
                id="rule-header",
                compact=True,
            ),
            id="header-row",
        )
        yield form_row(
            "Operator",
            choice_select(
                ((op.replace("_", " "), op) for op in OPS),
                self.rule.get("op", "contains"),
                id="rule-op",
            ),
        )
        yield form_row(
            "Value",
            Input(
                self.rule.get("value", ""),
                placeholder="text, or an RE2 regex for matches (unanchored search)",
                id="rule-value",
                compact=True,
            ),
        )
        yield form_row(
            "",
            Checkbox(
                "Case-sensitive",
                self.rule.get("case_sensitive", False),
                id="rule-case",
                compact=True,
            ),
        )

    def on_mount(self) -> None:  # RuleFormModal.on_mount runs too (Textual walks the MRO)
        self.query_one("#rule-value", Input).focus()

    def refresh_fields(self) -> None:
        is_header = self.query_one("#rule-field", Select).value == HEADER
        self.query_one("#header-row").set_class(not is_header, "-hidden")

    def read(self) -> dict:
        field = str(self.query_one("#rule-field", Select).value)
        if field == HEADER:
            field += self.query_one("#rule-header", Input).value.strip()
        data = {
            "field": field,
            "op": str(self.query_one("#rule-op", Select).value),
            "value": self.query_one("#rule-value", Input).value,
        }
        if self.query_one("#rule-case", Checkbox).value:
            data["case_sensitive"] = True
        return data

    def parse(self, data: dict) -> Condition:
        return parse_condition(data, "rule")

    def trial(self, rule: Condition, sample: ParsedMail) -> Text:  # type: ignore[override]
        return self.held(rule, sample, Text())

    @staticmethod
    def held(rule: Condition, sample: ParsedMail, gives: Text) -> Text:
        """✓ holds (and what that `gives`) or ✗ does not hold, and the field's text."""
        text = Text()
        if rule.holds(sample):
            text.append("✓ holds", style="bold green")
            text.append_text(gives)
        else:
            text.append("✗ does not hold", style="bold red")
        text.append(f"  ({rule.field} is “")
        text.append_text(short(field_text(sample, rule.field).split("\n", 1)[0], 48))
        text.append("”)")
        return text


class SeverityRuleFormModal(ConditionFormModal):
    """A condition and the severity of the incidents a mail it holds for opens."""

    TITLE = "severity rule"

    def compose_fields(self) -> ComposeResult:
        yield from super().compose_fields()
        yield form_row(
            "Severity",
            choice_select(
                ((name, name) for name in SEVERITIES),
                self.rule.get("severity", "alert"),
                id="rule-severity",
            ),
        )

    def read(self) -> dict:
        return super().read() | {"severity": str(self.query_one("#rule-severity", Select).value)}

    def parse(self, data: dict) -> SeverityRule:  # type: ignore[override]
        return parse_severity_rule(data, "rule")

    def trial(self, rule: SeverityRule, sample: ParsedMail) -> Text:  # type: ignore[override]
        return self.held(rule.condition, sample, Text(": severity ") + severity_text(rule.severity))
