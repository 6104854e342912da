"""A key rule: which field, which extractor and its pattern or markers; the key shown live.
A title rule is the same form, and shows the title it reads."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Input, Select

from app.core.intake.mail import ParsedMail
from app.core.intake.rules import EXTRACTORS, KEY_FIELDS, KeyRule, parse_key_rule
from app.ui.display import short
from app.ui.modals.rule_form import RuleFormModal
from app.ui.widgets.form_row import choice_select, form_row

EXTRACTOR_HELP = {
    "regex": "regex: the capture groups, joined by -",
    "between": "between: the text between start and end",
    "after": "after: the rest of the line after start",
    "before": "before: the line's text before end",
}
USES = {"regex": ("pattern",), "between": ("start", "end"), "after": ("start",), "before": ("end",)}


class KeyRuleFormModal(RuleFormModal):
    TITLE = "key rule"

    def compose_fields(self) -> ComposeResult:
        yield form_row(
            "Field",
            choice_select(
                ((name, name) for name in KEY_FIELDS),
                self.rule.get("field", "subject"),
                id="rule-field",
            ),
        )
        yield form_row(
            "Extractor",
            choice_select(
                ((EXTRACTOR_HELP[name], name) for name in EXTRACTORS),
                self.rule.get("extractor", "regex"),
                id="rule-extractor",
            ),
        )
        for name, hint in (
            ("pattern", "RE2 with a capture group, e.g. Alert: (\\S+)/(.+) is"),
            ("start", "the text just before the key, e.g. Host: "),
            ("end", "the text just after the key"),
        ):
            field = Input(
                self.rule.get(name, ""), placeholder=hint, id=f"rule-{name}", compact=True
            )
            yield form_row(name.capitalize(), field, id=f"{name}-row")

    def on_mount(self) -> None:  # RuleFormModal.on_mount runs too (Textual walks the MRO)
        extractor = str(self.query_one("#rule-extractor", Select).value)
        self.query_one(f"#rule-{USES[extractor][0]}", Input).focus()

    def refresh_fields(self) -> None:
        used = USES[str(self.query_one("#rule-extractor", Select).value)]
        for name in ("pattern", "start", "end"):
            self.query_one(f"#{name}-row").set_class(name not in used, "-hidden")

    def read(self) -> dict:
        extractor = str(self.query_one("#rule-extractor", Select).value)
        data = {"field": str(self.query_one("#rule-field", Select).value), "extractor": extractor}
        for name in USES[extractor]:
            data[name] = self.query_one(f"#rule-{name}", Input).value
        return data

    def parse(self, data: dict) -> KeyRule:
        return parse_key_rule(data, "rule")

    def trial(self, rule: KeyRule, sample: ParsedMail) -> Text:  # type: ignore[override]
        key = rule.extract(sample)
        if key is None:
            return Text("✗ extracts no key", style="bold red")
        text = Text("key ", style="bold green")
        text.append_text(short(f"'{key}'", 60))  # as extracted: repr() doubles backslashes
        return text


class TitleRuleFormModal(KeyRuleFormModal):
    """The incident's title read from the mail, by a key rule's extractors."""

    TITLE = "title rule"

    def parse(self, data: dict) -> KeyRule:
        return parse_key_rule(data, "rule", reads="title")

    def trial(self, rule: KeyRule, sample: ParsedMail) -> Text:  # type: ignore[override]
        title = rule.title(sample)
        if title is None:
            return Text("✗ extracts no title: the subject is the title", style="bold red")
        text = Text("title ", style="bold green")
        text.append_text(short(f"'{title}'", 60))
        return text
