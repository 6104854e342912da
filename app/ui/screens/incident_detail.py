"""One incident: its summary and key, its timeline, and each of its mails, readable or raw."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from app.core.incidentlog import (
    ChangeToken,
    MailDetail,
    change_token,
    incident_mails,
    key_explanation,
)
from app.core.incidents import IncidentDetail, IncidentError, show_incident
from app.ui.display import printable, severity_text, short, state_text, when
from app.ui.screens.triage import TriageActions, TriageDone
from app.ui.screens.worker_failures import WorkerFailures
from app.ui.widgets.keyed_table import KeyedTable
from app.ui.widgets.mail_reader import mail_text

POLL_SECONDS = 1.0


@dataclass
class DetailLoaded(Message):
    detail: IncidentDetail
    mails: list[MailDetail]
    key: str
    token: ChangeToken


@dataclass
class DetailMissing(Message):
    reason: str


class IncidentDetailScreen(TriageActions, WorkerFailures, Screen):
    DEFAULT_CSS = """
    IncidentDetailScreen #summary { height: auto; padding: 0 1; background: $boost; }
    IncidentDetailScreen #lists { height: 10; }
    IncidentDetailScreen #timeline { width: 3fr; border: round $primary-muted; }
    IncidentDetailScreen #mails { width: 2fr; border: round $primary-muted; }
    IncidentDetailScreen #mail-scroll { height: 1fr; border: round $primary-muted; padding: 0 1; }
    IncidentDetailScreen DataTable:focus, IncidentDetailScreen #mail-scroll:focus {
        border: round $primary;
    }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="detail.back"),
        Binding("a", "triage('accept')", "Accept", id="detail.accept"),
        Binding("r", "triage('resolve')", "Resolve", id="detail.resolve"),
        Binding("o", "triage('reopen')", "Reopen", id="detail.reopen"),
        Binding("R", "toggle_raw", "Raw source", id="detail.raw"),
    ]

    def __init__(self, incident_id: int) -> None:
        super().__init__()
        self.incident_id = incident_id
        self.mails: list[MailDetail] = []
        self.raw = False
        self.token: ChangeToken | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading…", id="summary")
        with Horizontal(id="lists"):
            yield KeyedTable(id="timeline")
            yield KeyedTable(id="mails")
        with VerticalScroll(id="mail-scroll"):
            yield Static(id="mail-view", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"mailsiren · Incident #{self.incident_id}"
        timeline = self.query_one("#timeline", DataTable)
        timeline.border_title = "Timeline"
        for key, label in (
            ("at", "When (UTC)"),
            ("kind", "What"),
            ("actor", "Who"),
            ("detail", "Detail"),
        ):
            timeline.add_column(label, key=key)
        mails = self.query_one("#mails", DataTable)
        mails.border_title = "Mails (enter: read)"
        for key, label in (("id", "Mail"), ("outcome", "Outcome"), ("subject", "Subject")):
            mails.add_column(label, key=key)
        self.query_one("#mail-scroll").border_title = "Mail"
        mails.focus()
        self.load()
        self.set_interval(POLL_SECONDS, self.check_for_changes)

    def triage_targets(self) -> list[int]:
        return [self.incident_id]

    def on_triage_done(self, message: TriageDone) -> None:
        self.notify(
            message.text, severity="error" if message.failed else "information", markup=False
        )
        self.load()

    @work(thread=True, exclusive=True, group="detail-read", exit_on_error=False)
    def load(self) -> None:
        database = self.app.workspace.database
        token = change_token(database)
        try:
            detail = show_incident(database, self.incident_id)
            mails = incident_mails(database, self.incident_id)
            key = key_explanation(database, self.incident_id)
        except IncidentError as error:
            self.post_message(DetailMissing(str(error)))
            return
        self.post_message(DetailLoaded(detail, mails, key, token))

    @work(thread=True, exclusive=True, group="detail-poll", exit_on_error=False)
    def poll(self, known: ChangeToken | None) -> None:
        if change_token(self.app.workspace.database) != known:
            self.app.call_from_thread(self.load)

    def check_for_changes(self) -> None:
        self.poll(self.token)

    def on_detail_missing(self, message: DetailMissing) -> None:
        self.query_one("#summary", Static).update(Text(message.reason))

    def on_detail_loaded(self, message: DetailLoaded) -> None:
        self.token = message.token
        incident = message.detail.incident
        summary = Text()
        summary.append(f"#{incident.id} ", style="bold")
        summary.append(printable(incident.title), style="bold")
        summary.append("\n")
        summary.append_text(state_text(incident.state))
        summary.append("  ")
        summary.append_text(severity_text(incident.severity))
        summary.append(f"  source {printable(incident.source)}  ·  {incident.mail_count} mails")
        summary.append(
            f"  ·  opened {when(incident.created_at)}  ·  updated {when(incident.updated_at)} UTC\n"
        )
        who = [f"accepted by {incident.accepted_by}"] if incident.accepted_by else []
        who += [f"resolved by {incident.resolved_by}"] if incident.resolved_by else []
        summary.append(printable(message.key) + ("  ·  " + ", ".join(who) if who else ""))
        self.query_one("#summary", Static).update(summary)

        timeline = self.query_one("#timeline", DataTable)
        timeline.clear()
        for entry in message.detail.timeline:
            timeline.add_row(
                Text(when(entry.at)),
                Text(entry.kind),
                Text(printable(entry.actor or "")),
                short(entry.detail, 60),
            )
        timeline.move_cursor(row=timeline.row_count - 1)
        mails = self.query_one("#mails", DataTable)
        chosen = mails.cursor_row if mails.row_count else len(message.mails) - 1
        mails.clear()
        self.mails = message.mails
        for mail in message.mails:
            mails.add_row(
                Text(str(mail.id)), Text(mail.outcome), short(mail.subject, 60), key=str(mail.id)
            )
        if message.mails:
            mails.move_cursor(row=max(0, min(chosen, len(message.mails) - 1)))
            self.show_mail(mails.cursor_row)

    @on(DataTable.RowHighlighted, "#mails")
    def mail_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_mail(event.cursor_row)

    @on(DataTable.RowSelected, "#mails")
    def mail_chosen(self) -> None:
        self.query_one("#mail-scroll").focus()

    def show_mail(self, index: int) -> None:
        if 0 <= index < len(self.mails):
            mail = self.mails[index]
            self.query_one("#mail-view", Static).update(mail_text(mail, raw=self.raw))
            scroll = self.query_one("#mail-scroll")
            scroll.border_title = f"Mail {mail.id}{' · raw source' if self.raw else ''}"

    def action_toggle_raw(self) -> None:
        self.raw = not self.raw
        self.show_mail(self.query_one("#mails", DataTable).cursor_row)
