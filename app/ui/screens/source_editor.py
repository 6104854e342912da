"""Create or tune one alert source, and see what its rules would do before saving."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static
from textual.worker import get_current_worker

from app.core.intake.preview import (
    Preview,
    SampleError,
    SampleMail,
    eml_files,
    eml_samples,
    preview,
    stored_samples,
)
from app.core.intake.rules import RuleError
from app.core.intake.sources import (
    SourceSpec,
    SourceSummary,
    check_address,
    check_heartbeat,
    check_name,
    check_timeout,
    parse_source,
    save_source,
)
from app.errors import MailsirenError
from app.ui.display import printable
from app.ui.modals.condition_form import ConditionFormModal, SeverityRuleFormModal
from app.ui.modals.confirm import ConfirmModal
from app.ui.modals.key_rule_form import KeyRuleFormModal, TitleRuleFormModal
from app.ui.modals.rule_form import RuleFormModal
from app.ui.modals.text_prompt import TextPromptModal
from app.ui.screens.worker_failures import WorkerFailures
from app.ui.widgets.keys_footer import KeysFooter
from app.ui.widgets.preview_detail import PreviewDetail
from app.ui.widgets.preview_table import PreviewTable
from app.ui.widgets.rule_list import RuleList
from app.ui.widgets.source_settings_form import MINUTE_FIELDS, SourceSettingsForm
from app.words import plural

NEW_SOURCE = {"name": "", "address": "", "severity": "alert", "creation": "per_email"}
# Each list of rules: its widget's id and the [[source]] key it edits, in the column's order.
RULE_LISTS = (
    ("filters", "filter"),
    ("key-rules", "key_rule"),
    ("resolve-rules", "resolve_rule"),
    ("severity-rules", "severity_rule"),
    ("title-rule", "title_rule"),
)
FORMS: dict[str, type[RuleFormModal]] = {
    "key_rule": KeyRuleFormModal,
    "title_rule": TitleRuleFormModal,
    "severity_rule": SeverityRuleFormModal,
}  # the others are conditions


@dataclass
class SamplesLoaded(Message):
    samples: list[SampleMail]
    origin: str  # where they come from, in words
    problem: str = ""


@dataclass
class PreviewReady(Message):
    preview: Preview
    edited: SourceSpec | None


@dataclass
class SaveDone(Message):
    text: str
    failed: bool


class DetailScroll(VerticalScroll):
    """The selected mail's detail: focusable only when there is more of it than it shows,
    so Tab never stops on an empty or fully visible box."""

    def allow_focus(self) -> bool:
        return self.max_scroll_y > 0


MINUTE_WORDS = {
    "heartbeat_minutes": "Heartbeat minutes",
    "ack_timeout_minutes": "Ack timeout minutes",
    "auto_resolve_minutes": "Auto-resolve minutes",
}


class SourceEditorScreen(WorkerFailures, Screen):
    DEFAULT_CSS = """
    SourceEditorScreen #editor-body { height: 1fr; }
    SourceEditorScreen #editor-left { width: 45%; max-width: 56; min-width: 36; }
    SourceEditorScreen #editor-settings { height: 1fr; }
    SourceEditorScreen #draft-problem { height: auto; color: $error; padding: 0 1; }
    SourceEditorScreen #draft-problem.-valid { color: $success; }
    SourceEditorScreen #editor-right { width: 1fr; }
    SourceEditorScreen #preview-header { height: auto; padding: 0 1; background: $boost; }
    SourceEditorScreen PreviewTable { height: 3fr; border: round $primary-muted; }
    SourceEditorScreen PreviewTable:focus { border: round $primary; }
    SourceEditorScreen #preview-detail-scroll {
        height: 2fr; max-height: 13; border: round $primary-muted;
    }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="editor.save", priority=True),
        Binding("escape", "back", "Back", id="editor.back"),
        Binding("ctrl+o", "choose_samples", "Sample mails", id="editor.samples", priority=True),
    ]

    def __init__(self, summary: SourceSummary | None, others: list[SourceSummary]) -> None:
        super().__init__()
        self.summary = summary
        self.saved = summary.spec if summary else None
        self.others = [
            s.spec for s in others if summary is None or s.spec.name != summary.spec.name
        ]
        self.samples: list[SampleMail] = []
        self.origin = ""
        self.edited: SourceSpec | None = None
        self.preview_result: Preview | None = None
        self.initial: dict = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="editor-body"):
            with Vertical(id="editor-left"):
                # Never focused itself: typed text would reach the app's keys (`1`, `q`).
                with VerticalScroll(id="editor-settings", can_focus=False):
                    yield SourceSettingsForm(id="settings")
                    for widget_id, kind in RULE_LISTS:
                        yield RuleList(kind, id=widget_id)
                # Below the scroll, always in sight (at 80x24 the rules scroll under it).
                yield Static("", id="draft-problem", markup=False)
            with Vertical(id="editor-right"):
                yield Static("Preview", id="preview-header")
                yield PreviewTable(id="preview")
                with DetailScroll(id="preview-detail-scroll"):
                    yield PreviewDetail(id="preview-detail")
        yield KeysFooter()

    def on_mount(self) -> None:
        name = self.saved.name if self.saved else ""
        self.title = f"mailsiren · {'Source ' + name if name else 'New alert source'}"
        data = self.saved.to_dict() if self.saved else dict(NEW_SOURCE)
        self.query_one(SourceSettingsForm).load(data)
        matches = {
            "filter": data.get("filter_match", "all"),
            "resolve_rule": data.get("resolve_match", "any"),
        }  # the lists combined by all or any
        for widget_id, kind in RULE_LISTS:
            rules = data.get(kind, [])
            self.query_one(f"#{widget_id}", RuleList).load(
                [rules] if isinstance(rules, dict) else rules, matches.get(kind)
            )  # the title rule is one table, the others lists
        self.query_one("#preview-detail-scroll").border_title = "Selected mail"
        self.initial = self.draft()
        self.query_one("#source-name").focus()
        if self.saved is not None:
            self.load_stored_samples(self.saved.name)
        self.revalidate()

    # The draft: exactly a [[source]] table, validated by core as config import does

    def draft(self) -> dict:
        data = self.query_one(SourceSettingsForm).values()
        data["filter_match"] = self.query_one("#filters", RuleList).match
        data["resolve_match"] = self.query_one("#resolve-rules", RuleList).match
        for widget_id, key in RULE_LISTS:
            rules = self.query_one(f"#{widget_id}", RuleList).rules
            if rules and key == "title_rule":
                data[key] = dict(rules[0])
            elif rules:
                data[key] = [dict(rule) for rule in rules]
        return data

    @property
    def dirty(self) -> bool:
        return self.draft() != self.initial

    @on(SourceSettingsForm.Changed)
    @on(RuleList.Changed)
    def draft_changed(self) -> None:
        self.revalidate()

    def revalidate(self) -> None:
        data = self.draft()
        self.query_one(SourceSettingsForm).show_errors(
            self._field_problem("name", data.get("name"), check_name),
            self._field_problem("address", data.get("address"), check_address),
            {
                field: self._minutes_problem(
                    check_heartbeat if key == "heartbeat_minutes" else check_timeout, data, key,
                    f"{MINUTE_WORDS[key]}:",
                )
                for key, field, _label, _placeholder in MINUTE_FIELDS
            },
        )  # fmt: skip
        problem = self.query_one("#draft-problem", Static)
        try:
            self.edited = parse_source(data, "source")
        except RuleError as error:
            self.edited = None
            problem.update(f"✗ {self._draft_problem(data, error)}")
            problem.remove_class("-valid")
            self.run_preview(self.saved, None, list(self.samples))
            return
        problem.update("✓ valid: ctrl+s saves" + (" (unsaved changes)" if self.dirty else ""))
        problem.add_class("-valid")
        self.run_preview(self.saved, self.edited, list(self.samples))

    @staticmethod
    def _draft_problem(data: dict, error: RuleError) -> str:
        """Core's reason, without the "source (name):" that names the entry in a file."""
        name = str(data.get("name", "")).strip()
        if not name and not str(data.get("address", "")).strip():
            return "type a name and the address this source's mail is sent to"
        return str(error).removeprefix(f"source ({name}): ").removeprefix("source: ")

    @staticmethod
    def _minutes_problem(check, data: dict, key: str, label: str) -> str:
        try:
            check(data.get(key, 0), label)
        except RuleError as error:
            return str(error)
        return ""

    def _field_problem(self, key: str, value: object, check) -> str:
        if not str(value or "").strip():
            return ""  # nothing typed yet: the draft line says what is missing
        try:
            checked = check(value)
        except RuleError as error:
            return str(error)
        taken = next((spec.name for spec in self.others if getattr(spec, key) == checked), None)
        return f"{key} already used by the source {taken}" if taken else ""

    # Samples and the preview, in workers

    @work(thread=True, exclusive=True, group="editor-samples", exit_on_error=False)
    def load_stored_samples(self, source: str) -> None:
        samples = stored_samples(self.app.workspace.database, source)
        origin = f"the last {plural(len(samples), 'mail')} of {source}" if samples else ""
        self.post_message(SamplesLoaded(samples, origin))

    @work(thread=True, exclusive=True, group="editor-samples", exit_on_error=False)
    def load_eml_samples(self, location: str) -> None:
        try:
            samples = eml_samples(location)
        except SampleError as error:
            self.post_message(SamplesLoaded(self.samples, self.origin, str(error)))
            return
        self.post_message(SamplesLoaded(samples, f"{plural(len(samples), 'mail')} from {location}"))

    def on_samples_loaded(self, message: SamplesLoaded) -> None:
        if message.problem:
            self.notify(message.problem, severity="error", markup=False)
        self.samples, self.origin = message.samples, message.origin
        self.run_preview(self.saved, self.edited, list(self.samples))

    @work(thread=True, exclusive=True, group="editor-preview", exit_on_error=False)
    def run_preview(
        self, saved: SourceSpec | None, edited: SourceSpec | None, samples: list[SampleMail]
    ) -> None:
        result = preview(saved, edited, samples)
        if not get_current_worker().is_cancelled:
            self.post_message(PreviewReady(result, edited))

    def on_preview_ready(self, message: PreviewReady) -> None:
        self.preview_result = message.preview
        self.query_one(PreviewTable).show(message.preview)
        self.show_preview_header()
        self.show_selected()

    def show_preview_header(self) -> None:
        text = Text()
        text.append("Preview", style="bold")
        result = self.preview_result
        if not self.samples:
            text.append(
                " · no sample mails yet: ctrl+o loads an .eml file or a folder of them"
                + ("" if self.saved is None else " (this source has stored none)")
            )
        elif self.edited is None:
            text.append(f" · {self.origin} · fix the rules (left) to see what they do")
        elif result is not None:
            text.append(f" · {self.origin}, replayed oldest first from no open incidents")
            tally = result.tally("edited")
            text.append("\nedited rules: " + ", ".join(f"{n} {o}" for o, n in tally.items()))
            if self.saved is not None:
                text.append(" · ")
                text.append(
                    f"{result.differences} differ from the saved rules (≠)",
                    style="bold yellow" if result.differences else "green",
                )
            text.append(" · ▸N = the incident opened by mail N", style="dim")
        self.query_one("#preview-header", Static).update(text)

    @on(DataTable.RowHighlighted, "#preview")
    def show_selected(self) -> None:
        self.query_one(PreviewDetail).show(self.selected_row(), self.edited)

    def selected_row(self):
        result = self.preview_result
        table = self.query_one(PreviewTable)
        if result is None or not result.rows or table.row_count == 0:
            return None
        return result.rows[min(table.cursor_row, len(result.rows) - 1)]

    def action_choose_samples(self) -> None:
        def check(location: str) -> str | None:
            if not location:
                return None
            try:
                eml_files(location)
            except SampleError as error:
                return str(error)
            return None

        def chosen(location: str | None) -> None:
            if location is None:
                return
            if location:
                self.load_eml_samples(location)
            elif self.saved is not None:
                self.load_stored_samples(self.saved.name)

        self.app.push_screen(
            TextPromptModal(
                "Sample mails for the preview",
                "an .eml file, or a folder of .eml files",
                check,
                hint="enter to load; empty: the source's own last mails; escape to cancel",
            ),
            chosen,
        )

    # Rules

    @on(RuleList.EditRequested)
    def edit_rule(self, message: RuleList.EditRequested) -> None:
        rules = message.rules
        rule = rules.rules[message.index] if message.index is not None else None
        row = self.selected_row()
        sample = row.sample.parsed if row else None
        label = f"#{row.number} {row.sample.label}" if row else ""
        form = FORMS.get(rules.kind, ConditionFormModal)

        def kept(result: dict | None) -> None:
            if result is not None:
                rules.put(message.index, result)
            rules.focus()

        self.app.push_screen(form(rule, sample, label), kept)

    # Saving and leaving

    def action_save(self) -> None:
        if self.edited is None:
            problem = self.query_one("#draft-problem", Static).render()
            self.notify(f"Not saved: {problem}", severity="error", markup=False)
            return
        original = self.saved.name if self.saved else None
        version = self.summary.version if self.summary else None
        self.save(self.draft(), original, version)

    @work(thread=True, exclusive=True, group="editor-save", exit_on_error=False)
    def save(self, data: dict, original: str | None, version: str | None) -> None:
        workspace = self.app.workspace
        try:
            spec = save_source(
                workspace.database, workspace.user, data, original=original, version=version
            )
        except MailsirenError as error:
            self.post_message(SaveDone(str(error), failed=True))
            return
        state = "takes mail now" if spec.enabled else "is disabled: it refuses mail (550)"
        self.post_message(SaveDone(f"Saved {spec.name}: {spec.address} {state}.", failed=False))

    def on_save_done(self, message: SaveDone) -> None:
        if message.failed:
            self.notify(message.text, title="Not saved", severity="error", markup=False)
            return
        self.notify(message.text, markup=False)
        self.dismiss()

    def action_back(self) -> None:
        if not self.dirty:
            self.dismiss()
            return
        name = printable(self.draft().get("name") or "this new source")
        self.app.push_screen(
            ConfirmModal(
                f"Leave without saving? Your changes to {name} are lost.", yes_label="Leave"
            ),
            lambda yes: self.dismiss() if yes else None,
        )
