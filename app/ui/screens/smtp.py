"""SMTP settings: the personal form, Update Settings, and a live Test Configuration transcript."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Checkbox, Input

from app.core.smtpclient import StageResult, Transcript, run_smtp_test
from app.core.smtpconf import SendingChoice, choose_configuration
from app.core.smtpprefs import (
    SmtpForm,
    SmtpFormInvalid,
    SmtpPreferenceView,
    clear_preferences,
    load_preferences,
    save_preferences,
)
from app.core.smtptest import SmtpTestRefused, prepare_smtp_test
from app.ui.modals.confirm import ConfirmModal
from app.ui.screens.area import AreaScreen
from app.ui.widgets.sending_choice_panel import SendingChoicePanel
from app.ui.widgets.smtp_settings_form import SmtpSettingsForm
from app.ui.widgets.transcript_view import TranscriptView


@dataclass
class SettingsLoaded(Message):
    view: SmtpPreferenceView | None
    saved_now: bool = False


@dataclass
class ChoiceLoaded(Message):
    choice: SendingChoice
    groups: tuple[str, ...]


@dataclass
class SettingsRefused(Message):
    errors: dict[str, str]


@dataclass
class StageFinished(Message):
    stage: StageResult


@dataclass
class TestStarted(Message):
    heading: str


@dataclass
class TestFinished(Message):
    transcript: Transcript


@dataclass
class TestRefused(Message):
    reason: str


class SmtpScreen(AreaScreen):
    AREA_TITLE = "SMTP"
    DEFAULT_CSS = """
    SmtpScreen #smtp-body { height: 1fr; layout: horizontal; }
    SmtpScreen #smtp-left { width: 52; height: 1fr; }
    SmtpScreen #smtp-right { width: 1fr; height: 1fr; }
    SmtpScreen.-narrow #smtp-body { layout: vertical; overflow-y: auto; }
    SmtpScreen.-narrow #smtp-left { width: 1fr; height: auto; }
    SmtpScreen.-narrow SmtpSettingsForm { max-height: 999; }
    SmtpScreen.-narrow #smtp-right { height: auto; }
    SmtpScreen.-narrow TranscriptView { height: auto; min-height: 8; }
    SmtpScreen .buttons { height: auto; margin: 1 0 0 1; }
    SmtpScreen .buttons Button { margin-right: 2; }
    SmtpScreen #test-options { height: auto; padding: 0 1; border: round $primary-muted; }
    SmtpScreen #test-options Checkbox { margin-right: 2; }
    SmtpScreen #send-to { width: 1fr; }
    """
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = [
        Binding("ctrl+s", "save", "Update Settings", id="smtp.save"),
        Binding("ctrl+t", "test", "Test Configuration", id="smtp.test"),
        Binding("escape", "leave_field", "Leave field", show=False, id="smtp.leave-field"),
    ]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="smtp-body"):
            with Vertical(id="smtp-left"):
                yield SmtpSettingsForm(id="smtp-form")
                with Horizontal(classes="buttons"):
                    yield Button("Update Settings", id="save", variant="primary", compact=True)
                    yield Button("Clear", id="clear", variant="error", compact=True)
            with Vertical(id="smtp-right"):
                yield SendingChoicePanel()
                with Horizontal(id="test-options"):
                    yield Button("Test Configuration", id="test", variant="success", compact=True)
                    yield Checkbox("Probe only", value=False, id="probe", compact=True)
                    yield Input(
                        placeholder="send to (default: your address)", id="send-to", compact=True
                    )
                yield TranscriptView(id="transcript")

    def on_mount(self) -> None:
        super().on_mount()
        self._choice: SendingChoice | None = None
        self.load_settings()

    @property
    def form(self) -> SmtpSettingsForm:
        return self.query_one(SmtpSettingsForm)

    # Actions and buttons

    def action_save(self) -> None:
        self.save_settings(self.form.read())

    def action_test(self) -> None:
        if self.form.has_unsaved_changes():
            self.notify(
                "Testing the saved settings: your edits are not saved yet (ctrl+s first).",
                severity="warning",
                markup=False,
            )
        recipient = self.query_one("#send-to", Input).value.strip() or None
        probe = self.query_one("#probe", Checkbox).value
        self.run_test_configuration(recipient, probe)

    def action_leave_field(self) -> None:
        self.set_focus(None)

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#test")
    def _test_pressed(self) -> None:
        self.action_test()

    @on(Button.Pressed, "#clear")
    def _clear_pressed(self) -> None:
        choice = self._choice
        if choice is not None and choice.shared_would_admit:
            after = "The shared configuration will send your mail instead."
        else:
            after = "You will have no email configuration until you set one."
        question = f"Delete your SMTP settings, password included? {after}"

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self.clear_settings()

        self.app.push_screen(ConfirmModal(question, yes_label="Delete"), answered)

    # Workers: blocking work off the UI thread, results posted as messages

    @work(thread=True, group="smtp-settings", exclusive=True, exit_on_error=False)
    def load_settings(self) -> None:
        workspace = self.app.workspace
        self.post_message(SettingsLoaded(load_preferences(workspace.database, workspace.user)))

    @work(thread=True, group="smtp-settings", exclusive=True, exit_on_error=False)
    def save_settings(self, form: SmtpForm) -> None:
        workspace = self.app.workspace
        try:
            view = save_preferences(workspace.database, workspace.user, form)
        except SmtpFormInvalid as error:
            self.post_message(SettingsRefused(error.errors))
            return
        self.post_message(SettingsLoaded(view, saved_now=True))

    @work(thread=True, group="smtp-settings", exclusive=True, exit_on_error=False)
    def clear_settings(self) -> None:
        workspace = self.app.workspace
        clear_preferences(workspace.database, workspace.user)
        self.post_message(SettingsLoaded(None, saved_now=True))

    @work(thread=True, group="smtp-choice", exclusive=True, exit_on_error=False)
    def load_choice(self) -> None:
        workspace = self.app.workspace
        user = workspace.refresh_user()
        choice = choose_configuration(workspace.database, user, workspace.shared_config())
        self.post_message(ChoiceLoaded(choice, user.groups))

    @work(thread=True, group="smtp-test", exclusive=True, exit_on_error=False)
    def run_test_configuration(self, recipient: str | None, probe: bool) -> None:
        workspace = self.app.workspace
        try:
            request = prepare_smtp_test(
                workspace.database,
                workspace.user,
                workspace.shared_config(),
                recipient=recipient,
                probe=probe,
            )
        except SmtpTestRefused as error:
            self.post_message(TestRefused(str(error)))
            return
        self.post_message(TestStarted(request.heading))
        transcript = asyncio.run(
            run_smtp_test(
                request.settings,
                recipient=request.recipient,
                mode=request.mode,
                on_stage=lambda stage: self.post_message(StageFinished(stage)),
            )
        )
        self.post_message(TestFinished(transcript))

    # Message handlers own the widgets

    def on_settings_loaded(self, message: SettingsLoaded) -> None:
        self.form.load(message.view)
        self.load_choice()
        if message.saved_now:
            text = "Settings saved." if message.view else "Your SMTP settings are deleted."
            self.notify(text, markup=False)
            for warning in message.view.warnings if message.view else ():
                self.notify(warning, severity="warning", markup=False)

    def on_choice_loaded(self, message: ChoiceLoaded) -> None:
        self._choice = message.choice
        self.query_one(SendingChoicePanel).show(message.choice, message.groups)

    def on_settings_refused(self, message: SettingsRefused) -> None:
        self.form.show_errors(message.errors)
        self.notify("Not saved: fix the fields marked in red.", severity="error", markup=False)

    def on_test_started(self, message: TestStarted) -> None:
        self.query_one(TranscriptView).start(message.heading)

    def on_stage_finished(self, message: StageFinished) -> None:
        self.query_one(TranscriptView).add_stage(message.stage)

    def on_test_finished(self, message: TestFinished) -> None:
        self.query_one(TranscriptView).finish(message.transcript)

    def on_test_refused(self, message: TestRefused) -> None:
        self.query_one(TranscriptView).refuse(message.reason)
