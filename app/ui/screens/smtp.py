"""SMTP settings: the personal form, Update Settings, and a live Test Configuration transcript."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input

from app.core.sending.choice import SendingChoice, choose_configuration
from app.core.sending.configtest import SmtpTestRefused, prepare_smtp_test
from app.core.sending.personal import (
    SmtpForm,
    SmtpFormInvalid,
    SmtpPreferenceView,
    clear_preferences,
    load_preferences,
    save_preferences,
)
from app.core.sending.smtp import StageResult, Transcript, run_smtp_test
from app.ui.modals.confirm import ConfirmModal
from app.ui.screens.area import AreaScreen
from app.ui.screens.live import LiveScreen
from app.ui.widgets.sending_choice_panel import SendingChoicePanel
from app.ui.widgets.smtp_settings_form import SmtpSettingsForm
from app.ui.widgets.transcript_view import TranscriptView


def saved_at(view: SmtpPreferenceView | None) -> datetime | None:
    """When the settings shown were saved: another time means another save or a clear."""
    return view.updated_at if view else None


@dataclass
class SettingsLoaded(Message):
    view: SmtpPreferenceView | None
    saved_now: bool = False
    changed_elsewhere: bool = False


@dataclass
class SettingsRead(Message):
    """The saved settings, read because the database changed: perhaps they did."""

    view: SmtpPreferenceView | None


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


class SmtpScreen(LiveScreen, AreaScreen):
    """The form and the test side by side; below 100 columns, one column that scrolls, and
    a test's transcript as a pane that takes the screen (ctrl+r and esc go back and forth)."""

    AREA_TITLE = "SMTP"
    AUTO_FOCUS = ""  # nothing focused at first: the first Tab reaches Server
    DEFAULT_CSS = """
    SmtpScreen #smtp-body { height: 1fr; layout: horizontal; }
    SmtpScreen #smtp-left { width: 52; height: 1fr; }
    SmtpScreen #smtp-right { width: 1fr; height: 1fr; }
    SmtpScreen.-narrow #smtp-body { layout: vertical; overflow-y: auto; }
    SmtpScreen.-narrow #smtp-left { width: 1fr; height: auto; }
    SmtpScreen.-narrow SmtpSettingsForm { max-height: 999; }
    SmtpScreen.-narrow #smtp-right { height: auto; }
    SmtpScreen.-narrow TranscriptView { height: auto; min-height: 8; }
    SmtpScreen.-narrow.-transcript #smtp-left,
    SmtpScreen.-narrow.-transcript SendingChoicePanel { display: none; }
    SmtpScreen.-narrow.-transcript #smtp-right { height: 1fr; }
    SmtpScreen.-narrow.-transcript TranscriptView { height: 1fr; }
    SmtpScreen TranscriptView:focus { border: round $primary; }
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
        Binding("ctrl+r", "transcript", "Transcript", id="smtp.transcript"),
        Binding("ctrl+l", "reload", "Reload saved settings", show=False, id="smtp.reload"),
        Binding("escape", "leave_field", "Leave field", show=False, id="smtp.leave-field"),
    ]

    def compose_body(self) -> ComposeResult:
        # can_focus=False: a focused container lets typed text reach the app's keys.
        with VerticalScroll(id="smtp-body", can_focus=False):
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
        self.token: datetime | None = None  # saved_at of the settings the form was loaded with
        self.loaded = False  # the first read (the live poll's) loads the form
        self._focus_before_transcript: Widget | None = None

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
        if self.showing_transcript_pane:
            self.hide_transcript_pane()
        else:
            self.set_focus(None)

    @property
    def narrow(self) -> bool:
        return self.has_class("-narrow")

    @property
    def showing_transcript_pane(self) -> bool:
        return self.narrow and self.has_class("-transcript")

    def action_transcript(self) -> None:
        """Narrow: the transcript takes the screen, or gives it back. Wide: focus it."""
        if self.showing_transcript_pane:
            self.hide_transcript_pane()
        else:
            self.show_transcript()

    def show_transcript(self) -> None:
        transcript = self.query_one(TranscriptView)
        if self.focused is not transcript:
            self._focus_before_transcript = self.focused
        if self.narrow:
            self.add_class("-transcript")
        transcript.focus()
        self.call_after_refresh(transcript.scroll_visible, animate=False)

    def hide_transcript_pane(self) -> None:
        self.remove_class("-transcript")
        before, self._focus_before_transcript = self._focus_before_transcript, None
        if before is not None and before.is_attached and before.focusable:
            before.focus()
        else:
            self.set_focus(None)

    def action_reload(self) -> None:
        """Load the saved settings again; unsaved edits are lost."""
        self.load_settings()

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

    def changed(self) -> None:
        """The database changed (or the screen opens): read the saved settings again."""
        self.read_settings()

    @work(thread=True, group="smtp-read", exclusive=True, exit_on_error=False)
    def read_settings(self) -> None:
        workspace = self.app.workspace
        self.post_message(SettingsRead(load_preferences(workspace.database, workspace.user)))

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
        self.token, self.loaded = saved_at(message.view), True
        self.form.load(message.view)
        self.load_choice()
        if message.changed_elsewhere:
            self.notify(
                "Your saved SMTP settings were changed outside this screen "
                "(mailsiren smtp set or clear): the form shows them now.",
                markup=False,
            )
        if message.saved_now:
            text = "Settings saved." if message.view else "Your SMTP settings are deleted."
            self.notify(text, markup=False)
            for warning in message.view.warnings if message.view else ():
                self.notify(warning, severity="warning", markup=False)

    def on_settings_read(self, message: SettingsRead) -> None:
        if not self.loaded:
            self.on_settings_loaded(SettingsLoaded(message.view))
            return
        token = saved_at(message.view)
        if token == self.token:
            return  # not the settings that changed, or our own save or load got there first
        if not self.form.has_unsaved_changes():
            self.on_settings_loaded(SettingsLoaded(message.view, changed_elsewhere=True))
            return
        self.token = token  # say it once, not every second
        self.notify(
            "Your saved SMTP settings were changed outside this screen (mailsiren smtp set or "
            "clear). Your unsaved edits are kept: ctrl+s saves them over the change, "
            "ctrl+l loads the new settings instead.",
            title="Changed elsewhere",
            severity="warning",
            timeout=15,
            markup=False,
        )

    def on_choice_loaded(self, message: ChoiceLoaded) -> None:
        self._choice = message.choice
        self.query_one(SendingChoicePanel).show(message.choice, message.groups)

    def on_settings_refused(self, message: SettingsRefused) -> None:
        self.form.show_errors(message.errors)
        self.notify("Not saved: fix the fields marked in red.", severity="error", markup=False)

    def on_test_started(self, message: TestStarted) -> None:
        self.query_one(TranscriptView).start(message.heading)
        if self.narrow:  # below the form, out of sight: bring it to the screen
            self.show_transcript()

    def on_stage_finished(self, message: StageFinished) -> None:
        self.query_one(TranscriptView).add_stage(message.stage)

    def on_test_finished(self, message: TestFinished) -> None:
        self.query_one(TranscriptView).finish(message.transcript)

    def on_test_refused(self, message: TestRefused) -> None:
        self.query_one(TranscriptView).refuse(message.reason)
        if self.narrow:
            self.show_transcript()
