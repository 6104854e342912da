"""The selected preview mail: both verdicts with their reasons, the severity and title the
edited rules give it, and each rule tried on it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from app.core.intake.preview import PreviewRow
from app.core.intake.rules import field_text
from app.core.intake.sources import SourceSpec
from app.ui.display import printable, severity_text
from app.ui.widgets.preview_table import verdict_text


def _mark(passed: bool) -> Text:
    return Text("✓ " if passed else "✗ ", style="green" if passed else "red")


class PreviewDetail(Static):
    DEFAULT_CSS = """
    PreviewDetail { height: auto; padding: 0 1; }
    """

    def show(self, row: PreviewRow | None, spec: SourceSpec | None) -> None:
        if row is None:
            self.update("")
            return
        parsed = row.sample.parsed
        text = Text()
        text.append(f"#{row.number} {printable(row.sample.label)}", style="bold")
        text.append(f" · {printable(parsed.subject) or '(no subject)'}\n")
        text.append(f"From {printable(parsed.from_)}\n", style="dim")
        lines = [("Saved rules ", row.saved), ("Edited rules", row.edited)]
        for label, verdict in lines:
            text.append(f"{label}  ", style="bold")
            text.append_text(verdict_text(verdict))
            if verdict is not None:
                text.append(f" · {printable(verdict.reason)}")
            text.append("\n")
        if row.sample.recorded:
            text.append("On arrival    ", style="bold")
            text.append(printable(row.sample.recorded) + "\n")
        if spec is None:
            self.update(text)
            return
        self._severity_and_title(text, row, spec)
        for title, conditions, match in (
            ("Filters", spec.filters, spec.filter_match),
            ("Resolve rules", spec.resolve_rules, spec.resolve_match),
        ):
            if conditions:
                text.append(f"{title} ({match}):\n", style="bold")
                for index, condition in enumerate(conditions, start=1):
                    text.append(f"  {index} ")
                    text.append_text(_mark(condition.holds(parsed)))
                    text.append(printable(condition.describe()) + "\n")
        if spec.key_rules:
            text.append("Key rules (first that extracts wins):\n", style="bold")
            for index, rule in enumerate(spec.key_rules, start=1):
                key = rule.extract(parsed)
                text.append(f"  {index} ")
                text.append_text(_mark(key is not None))
                text.append(f"{key!r} " if key is not None else "no key ", style="bold")
                text.append(f"← {printable(rule.describe())}\n")
            if not field_text(parsed, "subject"):
                text.append("  (the mail has no subject)\n", style="dim")
        if spec.severity_rules:
            text.append("Severity rules (first that holds wins):\n", style="bold")
            for index, rule in enumerate(spec.severity_rules, start=1):
                text.append(f"  {index} ")
                text.append_text(_mark(rule.holds(parsed)))
                text.append(printable(rule.condition.describe()) + " → ")
                text.append_text(severity_text(rule.severity))
                text.append("\n")
        if spec.title_rule is not None:
            title = spec.title_for(parsed)
            text.append("Title rule: ", style="bold")
            text.append_text(_mark(title is not None))
            text.append(f"'{printable(title)}' " if title is not None else "no title ")
            text.append(f"← {printable(spec.title_rule.describe())}\n")
        self.update(text)

    @staticmethod
    def _severity_and_title(text: Text, row: PreviewRow, spec: SourceSpec) -> None:
        """What the edited rules give the incident the mail lands in, and why."""
        verdict = row.edited
        if verdict is None or verdict.severity is None:
            return
        parsed = row.sample.parsed
        held = next(
            (n for n, rule in enumerate(spec.severity_rules, start=1) if rule.holds(parsed)),
            None,
        )
        own = spec.severity_for(parsed)
        text.append("Severity      ", style="bold")
        text.append_text(severity_text(verdict.severity))
        rule = f"severity rule {held} held" if held else "no severity rule held: the source's"
        if verdict.outcome == "created":
            why = rule
        else:  # a worse mail raises the incident's severity, a milder one never lowers it
            why = f"the incident's; this mail alone gives {own} ({rule})"
        text.append(f" · {why}\n")
        text.append("Title         ", style="bold")
        text.append(printable(verdict.title or ""))
        if verdict.outcome != "created":
            text.append(" · the incident's, set by the mail that opened it", style="dim")
        elif spec.title_for(parsed) is not None:
            text.append(" · from the title rule", style="dim")
        else:
            text.append(
                " · the subject" + (": the title rule extracts nothing" if spec.title_rule else ""),
                style="dim",
            )
        text.append("\n")
