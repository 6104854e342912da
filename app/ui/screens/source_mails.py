"""A source's mail log (the event explorer): every mail, its outcome and reason, each readable."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Header, Static

from app.core.incidents.log import count_mails
from app.core.incidents.views import MailView, list_mails
from app.core.names import MAIL_OUTCOMES
from app.ui.display import (
    OUTCOME_STYLE,
    parse_time,
    printable,
    short,
    shown,
    when,
    zone_label,
)
from app.ui.screens.live import LiveScreen
from app.ui.screens.mail_screen import MailScreen
from app.ui.screens.worker_failures import WorkerFailures
from app.ui.widgets.keyed_table import KeyedTable
from app.ui.widgets.keys_footer import KeysFooter
from app.words import plural

LIMIT = 500  # the newest mails shown; the CLI (mailsiren mails list) reaches the rest
OUTCOME_CYCLE = (None, *(outcome for outcome in MAIL_OUTCOMES if outcome != "rejected"))
NARROW_BELOW = 100  # columns: shorter times, and the subject gets the room left before the reason
SUBJECT_AT_LEAST = 24  # cells: enough of a subject to recognise it


@dataclass
class MailsLoaded(Message):
    mails: list[MailView]
    total: int


class SourceMailTable(KeyedTable):
    """The source's mails; enter reads the one under the cursor (a binding of the table's
    own, so that the footer and help show it: DataTable's is hidden)."""

    BINDINGS = [
        Binding(
            "enter", "select_cursor", "Read mail", id="mails.read",
            tooltip="Read the mail under the cursor: headers, text, why it got its outcome",
        ),
    ]  # fmt: skip


class SourceMailsScreen(WorkerFailures, LiveScreen):
    DEFAULT_CSS = """
    SourceMailsScreen #mails-header { height: auto; padding: 0 1; background: $boost; }
    SourceMailsScreen KeyedTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="mails.back"),
        Binding("o", "cycle_outcome", "Outcome filter", id="mails.outcome"),
    ]

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source
        self.outcome: str | None = None
        self.mails: list[MailView] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading…", id="mails-header")
        yield SourceMailTable(id="source-mails")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = f"mailsiren · Mail log of {self.source}"
        table = self.query_one(KeyedTable)
        for key, label in (
            ("id", "Mail"),
            ("at", "Received"),
            ("outcome", "Outcome"),
            ("incident", "Incident"),
            ("subject", "Subject"),
            ("reason", "Reason"),
        ):
            table.add_column(label, key=key)
        table.focus()

    @work(thread=True, exclusive=True, group="mails-read", exit_on_error=False)
    def load(self) -> None:
        database = self.app.workspace.database
        mails = list_mails(database, source=self.source, outcome=self.outcome, limit=LIMIT)
        total = count_mails(database, source=self.source, outcome=self.outcome)
        self.post_message(MailsLoaded(mails, total))

    def on_mails_loaded(self, message: MailsLoaded) -> None:
        self.mails = message.mails
        self.show_rows()
        header = Text()
        header.append(printable(self.source), style="bold")
        header.append(f" · {plural(message.total, 'mail')}")
        header.append(f" with outcome {self.outcome}" if self.outcome else " (every outcome)")
        if message.total > len(message.mails):
            header.append(
                f" · the newest {len(message.mails):,} shown; `mailsiren mails list --source "
                f"{self.source} --limit N` reaches the rest"
            )
        header.append(f" · {zone_label()}")
        header.append("\no: filter by outcome · enter: read the mail · esc: back", style="dim")
        self.query_one("#mails-header", Static).update(header)

    def on_resize(self) -> None:
        self.show_rows()

    def show_rows(self) -> None:
        """The mails held, drawn to the width there is: a narrow table shows shorter times
        and cuts the subject to the room before the reason (never under 24 cells)."""
        table = self.query_one(KeyedTable)
        width = table.scrollable_content_region.width or self.app.size.width
        narrow = width < NARROW_BELOW
        stamp = (lambda at: shown(parse_time(at)).strftime("%m-%d %H:%M:%S")) if narrow else when
        rows = [
            (
                str(mail.id),
                stamp(mail.received_at),
                mail,
                f"#{mail.incident_id}" if mail.incident_id else "—",
            )
            for mail in self.mails
        ]
        used = (
            sum(
                max([len(label), *(len(str(row[index])) for row in rows)]) + 2
                for index, label in ((0, "Mail"), (1, "Received"), (3, "Incident"))
            )
            + max([len("Outcome"), *(len(mail.outcome) for mail in self.mails)])
            + 2
        )
        room = max(SUBJECT_AT_LEAST, width - used - 2) if narrow else 80
        table.replace_rows(
            (
                key,
                (
                    Text(key), Text(at), Text(mail.outcome, style=OUTCOME_STYLE.get(mail.outcome, "dim")),
                    Text(incident), short(mail.subject or "(no subject)", room), short(mail.reason, 52),
                ),
            )
            for key, at, mail, incident in rows
        )  # fmt: skip
        if not self.mails:
            table.add_row(Text("—"), Text(""), Text(""), Text(""), Text("no mails"), Text(""))

    def action_cycle_outcome(self) -> None:
        index = OUTCOME_CYCLE.index(self.outcome)
        self.outcome = OUTCOME_CYCLE[(index + 1) % len(OUTCOME_CYCLE)]
        self.load()

    @on(KeyedTable.RowSelected)
    def read_mail(self, event: KeyedTable.RowSelected) -> None:
        key = event.row_key.value
        if key and key.isdigit():
            self.app.push_screen(MailScreen(int(key), self.source))
