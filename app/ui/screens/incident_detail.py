"""One incident: its summary and key, its timeline with every notification, and its mails
(a window of them read newest first, shown oldest at the top, paged as the cursor moves),
readable or raw (and copied through the terminal); read again only when that incident
changed."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Header, Static

from app.core.incidents.log import (
    MAIL_WINDOW,
    MailDetail,
    MailWindow,
    incident_mail_window,
    incident_token,
    key_explanation,
)
from app.core.incidents.views import IncidentDetail, IncidentError, IncidentView, show_incident
from app.core.notifications.deliveries import DeliveryView, list_deliveries
from app.core.store.changes import database_token
from app.core.users import PermissionDenied
from app.ui.display import printable, severity_text, short, state_text, when, zone_label
from app.ui.screens.live import LiveScreen, Token
from app.ui.screens.triage import TriageActions, TriageDone
from app.ui.screens.worker_failures import WorkerFailures
from app.ui.widgets.keyed_table import KeyedTable
from app.ui.widgets.keys_footer import KeysFooter
from app.ui.widgets.mail_reader import mail_text
from app.ui.widgets.timeline import TimelineTable, timeline_rows
from app.words import plural

SIDE_BY_SIDE_FROM = 160  # columns: below, the timeline takes the whole width, the mails under it
SHORT_BELOW = 30  # lines: below, a mail being read takes the lists' room
EDGE_ROWS = 25  # the cursor this near an edge of the mail window with more beyond: read on


@dataclass(frozen=True)
class MailRequest:
    """Which window of mails to read: around a mail (at a row), or the newest/oldest ones."""

    around: int | None = None  # a mail id
    around_index: int = 0  # newest first: 0 is the newest mail of the window
    jump: str | None = None  # "newest" or "oldest": that end of the incident's mails
    serial: int = 0


@dataclass
class DetailLoaded(Message):
    detail: IncidentDetail
    mails: MailWindow
    key: str
    deliveries: list[DeliveryView]
    deliveries_hidden: str  # why the notifications are not shown, or ""
    tokens: tuple[Token, Token]  # the database's and the incident's, read before the rows


@dataclass
class DetailMissing(Message):
    reason: str
    tokens: tuple[Token, Token]


@dataclass
class MailsLoaded(Message):
    mails: MailWindow
    request: MailRequest


class MailTable(KeyedTable):
    """The detail's mails: a window of them, oldest at the top; g and G go to the incident's
    oldest and newest mails, whichever window holds them."""

    BINDINGS = [  # the table's own enter, so that the footer and help show it
        Binding(
            "enter", "select_cursor", "Read mail", id="detail.read",
            tooltip="Read the mail under the cursor below the lists",
        ),
    ]  # fmt: skip

    @dataclass
    class JumpWanted(Message):
        jump: str  # "newest" or "oldest"

    def action_scroll_top(self) -> None:
        self.post_message(self.JumpWanted("oldest"))

    def action_scroll_bottom(self) -> None:
        self.post_message(self.JumpWanted("newest"))


class IncidentDetailScreen(TriageActions, WorkerFailures, LiveScreen):
    DEFAULT_CSS = """
    IncidentDetailScreen #summary { height: auto; padding: 0 1; background: $boost; }
    IncidentDetailScreen #lists { height: 10; }
    IncidentDetailScreen #timeline { width: 3fr; border: round $primary-muted; }
    IncidentDetailScreen #mails { width: 2fr; border: round $primary-muted; }
    IncidentDetailScreen.-stacked #lists { layout: vertical; height: 50%; }
    IncidentDetailScreen.-stacked.-short #lists { height: 13; }
    IncidentDetailScreen.-stacked #timeline { width: 1fr; height: 1fr; }
    IncidentDetailScreen.-stacked #mails { width: 1fr; height: 5; }
    IncidentDetailScreen.-short.-reading #lists { display: none; }
    IncidentDetailScreen #mail-scroll { height: 1fr; border: round $primary-muted; padding: 0 1; }
    IncidentDetailScreen DataTable:focus, IncidentDetailScreen #mail-scroll:focus {
        border: round $primary;
    }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", id="detail.back"),
        Binding("a", "triage('accept')", "Accept", id="detail.accept"),
        Binding("r", "triage('resolve')", "Resolve", id="detail.resolve"),
        Binding("o", "triage('reopen')", "Reopen", id="detail.reopen"),
        Binding("R", "toggle_raw", "Raw source", id="detail.raw"),
        Binding("c", "copy_raw", "Copy raw mail", id="detail.copy-raw"),
        Binding("N", "note", "Note", id="detail.note", tooltip="Write a note on this incident"),
        Binding("A", "assign", "Assign", id="detail.assign", tooltip="Give it an owner, or none"),
    ]

    def __init__(self, incident_id: int) -> None:
        super().__init__()
        self.incident_id = incident_id
        self.mails: list[MailDetail] = []  # the window's, as the table shows them: oldest first
        self.mail_window: MailWindow | None = None
        self.raw = False
        self.shown_incident: IncidentView | None = None
        self._database_token: Token | None = None  # the database's, at the last poll
        self._mail_serial = 0  # a newer mail read drops the windows of older ones

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading…", id="summary")
        with Horizontal(id="lists"):
            yield TimelineTable(id="timeline")
            yield MailTable(id="mails")
        with VerticalScroll(id="mail-scroll"):
            yield Static(id="mail-view", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = f"mailsiren · Incident #{self.incident_id}"
        self.query_one(TimelineTable).border_title = f"Timeline · {zone_label()}"
        mails = self.query_one("#mails", DataTable)
        mails.border_title = "Mails (enter: read)"
        for key, label in (("id", "Mail"), ("outcome", "Outcome"), ("subject", "Subject")):
            mails.add_column(label, key=key)
        self.query_one("#mail-scroll").border_title = "Mail"
        self.on_resize()
        mails.focus()
        self.load()  # at once: the first poll, when the screen is shown, finds it on its way

    def on_resize(self) -> None:
        self.set_class(self.app.size.width < SIDE_BY_SIDE_FROM, "-stacked")
        self.set_class(self.app.size.height < SHORT_BELOW, "-short")

    def on_descendant_focus(self) -> None:
        """On a short terminal, the mail being read takes the lists' room; esc gives it back."""
        self.set_class(self.query_one("#mail-scroll").has_focus, "-reading")

    def action_back(self) -> None:
        """esc: from a mail read on a short terminal back to the lists, else to the log."""
        if self.has_class("-short") and self.has_class("-reading"):
            self.query_one("#mails", DataTable).focus()
        else:
            self.app.pop_screen()

    def triage_targets(self) -> list[int]:
        return [self.incident_id]

    def incident_in_hand(self) -> IncidentView | None:
        return self.shown_incident

    def on_triage_done(self, message: TriageDone) -> None:
        self.notify(
            message.text, severity="error" if message.failed else "information", markup=False
        )
        self.load()

    def poll_token(self) -> Token:
        """In the poll's thread: the incident's own token, read (one query) only when the
        database's moved, so that a mail for another incident reads nothing more."""
        database = self.app.workspace.database
        moved = database_token(database)
        if moved == self._database_token and self.live_token is not None:
            return self.live_token
        token = incident_token(database, self.incident_id)
        self._database_token = moved  # after the read: a failed one is tried again
        return ("incident", token)

    def load(self) -> None:
        """Read the incident again, its mail window around the mail under the cursor."""
        self.read_detail(self._mail_request())

    def _mail_request(self, jump: str | None = None) -> MailRequest:
        self._mail_serial += 1
        mail = self.shown_mail()
        table = self.query_one("#mails", DataTable)
        if jump is not None or mail is None:
            return MailRequest(jump=jump, serial=self._mail_serial)
        newest_first = len(self.mails) - 1 - table.cursor_row
        return MailRequest(mail.id, newest_first, serial=self._mail_serial)

    def _read_mails(self, request: MailRequest) -> MailWindow:
        database = self.app.workspace.database
        offset = 1 << 62 if request.jump == "oldest" else 0  # clamped to the oldest window
        return incident_mail_window(
            database,
            self.incident_id,
            offset=offset,
            limit=MAIL_WINDOW,
            around=request.around,
            around_index=request.around_index,
        )

    @work(thread=True, exclusive=True, group="detail-read", exit_on_error=False)
    def read_detail(self, request: MailRequest) -> None:
        workspace = self.app.workspace
        database = workspace.database
        tokens = (
            database_token(database),
            ("incident", incident_token(database, self.incident_id)),
        )
        try:
            detail = show_incident(database, self.incident_id)
            mails = self._read_mails(request)
            key = key_explanation(database, self.incident_id)
        except IncidentError as error:
            self.post_message(DetailMissing(str(error), tokens))
            return
        try:
            deliveries = list_deliveries(
                database, workspace.user, incident_id=self.incident_id, limit=1_000
            )
            hidden = ""
        except PermissionDenied as error:
            deliveries, hidden = [], str(error)
        self.post_message(DetailLoaded(detail, mails, key, deliveries, hidden, tokens))
        self.post_message(MailsLoaded(mails, request))

    @work(thread=True, exclusive=True, group="detail-mails", exit_on_error=False)
    def read_mails(self, request: MailRequest) -> None:
        """Another window of the mails, as the cursor nears an edge of this one, or g/G."""
        self.post_message(MailsLoaded(self._read_mails(request), request))

    def mails_wanted(self, jump: str | None = None) -> None:
        self.read_mails(self._mail_request(jump))

    @on(MailTable.JumpWanted)
    def mail_jump(self, message: MailTable.JumpWanted) -> None:
        self.mails_wanted(message.jump)

    def polls_now(self) -> bool:
        """Never while the incident is being read: that read brings its own tokens."""
        return self.is_current and not self.busy("detail-read")

    def on_detail_missing(self, message: DetailMissing) -> None:
        self._database_token, self.live_token = message.tokens
        self.query_one("#summary", Static).update(Text(message.reason))

    def on_detail_loaded(self, message: DetailLoaded) -> None:
        self._database_token, self.live_token = message.tokens
        incident = message.detail.incident
        self.shown_incident = incident
        summary = Text()
        summary.append(f"#{incident.id} ", style="bold")
        summary.append(printable(incident.title), style="bold")
        summary.append("\n")
        summary.append_text(state_text(incident.state))
        summary.append("  ")
        summary.append_text(severity_text(incident.severity))
        mails = plural(incident.mail_count, "mail")
        summary.append(f"  source {printable(incident.source)}  ·  {mails}\n")
        summary.append(
            f"opened {when(incident.created_at)}  ·  updated {when(incident.updated_at)}\n"
        )
        who = [f"accepted by {incident.accepted_by}"] if incident.accepted_by else []
        who += [f"resolved by {incident.resolved_by}"] if incident.resolved_by else []
        who += [f"owner {incident.assignee}"] if incident.assignee else []
        summary.append(printable(message.key) + ("  ·  " + ", ".join(who) if who else ""))
        if incident.reply_count:
            summary.append(f"  ·  {plural(incident.reply_count, 'reply', 'replies')}")
        note = message.detail.latest_note
        if note is not None:
            lines = note.detail.splitlines()
            shown_lines = " ⏎ ".join(printable(line) for line in lines[:3])
            more = " …" if len(lines) > 3 else ""
            summary.append(f"\nlatest note, {note.actor} {when(note.at)[5:16]}: ", style="bold")
            summary.append(shown_lines + more)
        self.query_one("#summary", Static).update(summary)

        timeline = self.query_one(TimelineTable)
        timeline.border_subtitle = (
            f"notifications hidden: {message.deliveries_hidden}"
            if message.deliveries_hidden
            else ""
        )
        timeline.show(
            timeline_rows(message.detail.timeline, message.deliveries, message.detail.replies)
        )

    def on_mails_loaded(self, message: MailsLoaded) -> None:
        """Show a window of mails; the cursor stays on its mail, at its row when it can."""
        request, window = message.request, message.mails
        if request.serial != self._mail_serial:
            return  # a newer read is on its way
        table = self.query_one("#mails", DataTable)
        kept = self.shown_mail()
        self.mail_window = window
        self.mails = list(reversed(window.rows))
        ids = [mail.id for mail in self.mails]
        if request.jump == "oldest":
            chosen = 0
        elif request.jump is None and kept is not None and kept.id in ids:
            chosen = ids.index(kept.id)
        else:  # the newest mail, or the cursor's row if its mail is gone
            chosen = len(ids) - 1 if request.jump or kept is None else table.cursor_row
        table.clear()
        for mail in self.mails:
            table.add_row(
                Text(str(mail.id)), Text(mail.outcome), short(mail.subject, 60), key=str(mail.id)
            )
        if window.rows:
            table.move_cursor(row=max(0, min(chosen, len(window.rows) - 1)))
        held = len(window.rows)
        table.border_title = "Mails (enter: read)" + (
            f" · {held} of {window.total:,}" if held < window.total else ""
        )
        if window.rows:
            self.show_mail(table.cursor_row)

    @on(DataTable.RowHighlighted, "#mails")
    def mail_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_mail(event.cursor_row)
        window = self.mail_window
        if window is None or self.busy("detail-mails"):
            return
        if event.cursor_row != event.data_table.cursor_row:
            return  # the rows were replaced since: not where the cursor is
        older_above = window.offset + len(window.rows) < window.total
        if (event.cursor_row < EDGE_ROWS and older_above) or (
            event.cursor_row >= len(window.rows) - EDGE_ROWS and window.offset > 0
        ):
            self.read_mails(self._around_cursor())

    def _around_cursor(self) -> MailRequest:
        """The window with the mail under the cursor in its middle: room both ways."""
        request = self._mail_request()
        return MailRequest(request.around, MAIL_WINDOW // 2, serial=request.serial)

    @on(DataTable.RowSelected, "#mails")
    def mail_chosen(self) -> None:
        self.query_one("#mail-scroll").focus()

    def shown_mail(self) -> MailDetail | None:
        index = self.query_one("#mails", DataTable).cursor_row
        return self.mails[index] if 0 <= index < len(self.mails) else None

    def show_mail(self, index: int) -> None:
        if 0 <= index < len(self.mails):
            mail = self.mails[index]
            self.query_one("#mail-view", Static).update(mail_text(mail, raw=self.raw))
            scroll = self.query_one("#mail-scroll")
            scroll.border_title = f"Mail {mail.id}{' · raw source' if self.raw else ''}"
            scroll.border_subtitle = "R: raw / readable · c: copy raw"

    def action_toggle_raw(self) -> None:
        self.raw = not self.raw
        self.show_mail(self.query_one("#mails", DataTable).cursor_row)

    def action_copy_raw(self) -> None:
        mail = self.shown_mail()
        if mail is None:
            return
        if mail.pruned_at:
            self.notify(
                f"Mail {mail.id} has no raw source to copy: it was pruned on "
                f"{when(mail.pruned_at)} (retention).",
                severity="warning",
                markup=False,
            )
            return
        self.app.copy_to_clipboard(mail.raw)
        self.notify(
            f"Copied the raw source of mail {mail.id} ({len(mail.raw.encode()):,} bytes) through "
            "the terminal (OSC 52: it works over SSH; in tmux it needs `set -g set-clipboard on`).",
            markup=False,
        )
