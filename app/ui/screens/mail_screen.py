"""One mail of a source's log: headers, the text rules matched against, or the raw source."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Static

from app.core.incidents.log import MailDetail, source_mail
from app.core.incidents.views import IncidentError
from app.ui.screens.worker_failures import WorkerFailures
from app.ui.widgets.keys_footer import KeysFooter
from app.ui.widgets.mail_reader import mail_text


@dataclass
class MailLoaded(Message):
    mail: MailDetail | None
    problem: str = ""


class MailScreen(WorkerFailures, Screen):
    DEFAULT_CSS = """
    MailScreen VerticalScroll { height: 1fr; border: round $primary; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="mail.back"),
        Binding("R", "toggle_raw", "Raw source", id="mail.raw"),
    ]

    def __init__(self, mail_id: int, source: str) -> None:
        super().__init__()
        self.mail_id = mail_id
        self.source = source
        self.mail: MailDetail | None = None
        self.raw = False

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="mail-scroll"):
            yield Static("Loading…", id="mail-view", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = f"mailsiren · Mail {self.mail_id} for {self.source}"
        self.query_one(VerticalScroll).focus()
        self.load()

    @work(thread=True, exclusive=True, group="mail-read", exit_on_error=False)
    def load(self) -> None:
        try:
            mail = source_mail(self.app.workspace.database, self.mail_id, self.source)
        except IncidentError as error:
            self.post_message(MailLoaded(None, str(error)))
            return
        self.post_message(MailLoaded(mail))

    def on_mail_loaded(self, message: MailLoaded) -> None:
        self.mail = message.mail
        self.show()
        if message.problem:
            self.query_one("#mail-view", Static).update(Text(message.problem))

    def show(self) -> None:
        if self.mail is not None:
            self.query_one("#mail-view", Static).update(mail_text(self.mail, raw=self.raw))
            scroll = self.query_one(VerticalScroll)
            scroll.border_title = f"Mail {self.mail.id}{' · raw source' if self.raw else ''}"
            scroll.border_subtitle = "R: raw source / readable"

    def action_toggle_raw(self) -> None:
        self.raw = not self.raw
        self.show()
