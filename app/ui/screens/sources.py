"""Alert sources: the list with each source's traffic, and the keys to create and tune them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from app.core.incidents.heartbeats import read_heartbeats
from app.core.incidents.silences import list_silences
from app.core.intake.sources import (
    SourceError,
    SourceSummary,
    delete_source,
    deletion_impact,
    list_source_summaries,
    set_source_enabled,
)
from app.core.users import PermissionDenied
from app.errors import MailsirenError
from app.ui import display
from app.ui.modals.confirm import ConfirmModal
from app.ui.modals.silence_form import SilenceFormModal, SilenceRequest
from app.ui.permissions import refused
from app.ui.screens.area import AreaScreen
from app.ui.screens.live import LiveScreen
from app.ui.screens.silences import SilencesScreen, silence_added
from app.ui.screens.source_editor import SourceEditorScreen
from app.ui.screens.source_mails import SourceMailsScreen
from app.ui.widgets.empty_state import EmptyState
from app.ui.widgets.sources_table import SourcesTable
from app.words import plural


@dataclass
class SourcesLoaded(Message):
    summaries: list[SourceSummary]
    silences: list = field(default_factory=list)  # what the Watch column tells
    heartbeats: dict = field(default_factory=dict)  # by source id


@dataclass
class SourcesRefused(Message):
    reason: str


@dataclass
class SourceChanged(Message):
    text: str
    failed: bool = False


def start_of_today() -> datetime:
    """Midnight in the UI's zone (local, or UTC with time = "utc"): "mails today" counts
    from there."""
    return display.shown(display.now()).replace(hour=0, minute=0, second=0, microsecond=0)


class SourcesScreen(LiveScreen, AreaScreen):
    AREA_TITLE = "Alert sources"
    DEFAULT_CSS = """
    SourcesScreen SourcesTable { height: 1fr; border: round $primary-muted; }
    SourcesScreen SourcesTable:focus { border: round $primary; }
    SourcesScreen #sources-hint { height: auto; padding: 0 1; color: $text-muted; }
    SourcesScreen EmptyState { display: none; }
    SourcesScreen.-empty EmptyState, SourcesScreen.-refused EmptyState { display: block; }
    SourcesScreen.-empty SourcesTable, SourcesScreen.-refused SourcesTable,
    SourcesScreen.-refused #sources-hint { display: none; }
    """

    BINDINGS = [
        Binding("n", "add_source", "New", id="sources.add"),
        Binding("e", "edit_source", "Edit", id="sources.edit"),
        Binding("t", "toggle_source", "Enable/disable", id="sources.toggle"),
        Binding("c", "copy_address", "Copy address", id="sources.copy"),
        Binding("m", "mail_log", "Mail log", id="sources.mails"),
        Binding("z", "silence_source", "Silence", id="sources.silence"),
        Binding("Z", "silences", "Silences", id="sources.silences"),
        Binding("delete,x", "delete_source", "Delete", id="sources.delete"),
    ]

    def compose_body(self) -> ComposeResult:
        yield SourcesTable(id="sources")
        yield EmptyState(
            "No alert sources yet",
            "Each monitoring system (Nagios, Alertmanager, Zabbix…) gets its own address here; "
            "its mail becomes incidents through the source's filters, key rules and resolve "
            "rules. Press n to create one (you can try its rules on sample .eml files before "
            "saving), or load them from a file with `mailsiren config import FILE`.",
        )
        yield Static(
            "Mail to an address that is no enabled source is refused (550). The editor (enter) "
            "previews what the rules would do to recent mails before you save.",
            id="sources-hint",
        )

    def on_mount(self) -> None:
        super().on_mount()
        self.summaries: list[SourceSummary] = []
        self.table.focus()

    @property
    def table(self) -> SourcesTable:
        return self.query_one(SourcesTable)

    def selected(self) -> SourceSummary | None:
        name = self.table.selected_key
        return next((s for s in self.summaries if s.spec.name == name), None)

    # Reading

    @work(thread=True, exclusive=True, group="sources-read", exit_on_error=False)
    def load(self) -> None:
        workspace = self.app.workspace
        try:
            summaries = list_source_summaries(
                workspace.database, workspace.user, since=start_of_today()
            )
        except PermissionDenied as error:
            self.post_message(SourcesRefused(str(error)))
            return
        silences = list_silences(workspace.database, clock=display.now)
        self.post_message(SourcesLoaded(summaries, silences, read_heartbeats(workspace.database)))

    def on_sources_loaded(self, message: SourcesLoaded) -> None:
        self.summaries = message.summaries
        self.remove_class("-refused")
        self.set_class(not message.summaries, "-empty")
        self.table.show(message.summaries, message.silences, message.heartbeats)

    def on_sources_refused(self, message: SourcesRefused) -> None:
        self.add_class("-refused")
        self.query_one(EmptyState).remove()
        self.mount(
            EmptyState("Alert sources are not yours to see", message.reason), before=self.table
        )

    # Actions

    def action_add_source(self) -> None:
        if not refused(self, "edit_connections", "create alert sources"):
            self.app.push_screen(SourceEditorScreen(None, self.summaries))

    def action_edit_source(self) -> None:
        summary = self.selected()
        if summary is not None:
            self.app.push_screen(SourceEditorScreen(summary, self.summaries))

    def action_mail_log(self) -> None:
        summary = self.selected()
        if summary is not None:
            self.app.push_screen(SourceMailsScreen(summary.spec.name))

    def action_silence_source(self) -> None:
        summary = self.selected()
        if summary is None or refused(self, "triage", "silence sources"):
            return
        self.app.push_screen(SilenceFormModal(summary.spec.name), self.add_silence)

    def action_silences(self) -> None:
        self.app.push_screen(SilencesScreen())

    @work(thread=True, group="sources-change", exit_on_error=False)
    def add_silence(self, request: SilenceRequest | None) -> None:
        if request is not None:
            said = silence_added(self.app.workspace, request)
            self.post_message(SourceChanged(said.text, failed=said.failed))

    def action_copy_address(self) -> None:
        summary = self.selected()
        if summary is not None:
            self.app.copy_to_clipboard(summary.spec.address)
            self.notify(
                f"Copied {summary.spec.address} (through the terminal, OSC 52: it works over "
                "SSH; in tmux it needs `set -g set-clipboard on`).",
                markup=False,
            )

    def action_toggle_source(self) -> None:
        summary = self.selected()
        if summary is None or refused(self, "edit_connections", "enable or disable sources"):
            return
        self.toggle(summary.spec.name, not summary.spec.enabled)

    def action_delete_source(self) -> None:
        summary = self.selected()
        if summary is None or refused(self, "delete_connections", "delete sources"):
            return
        self.ask_deletion(summary.spec.name)

    @on(SourcesTable.RowSelected)
    def row_chosen(self) -> None:
        self.action_edit_source()

    # Changes, in workers; core checks the permission again

    @work(thread=True, group="sources-change", exit_on_error=False)
    def toggle(self, name: str, enabled: bool) -> None:
        workspace = self.app.workspace
        try:
            set_source_enabled(workspace.database, workspace.user, name, enabled)
        except MailsirenError as error:
            self.post_message(SourceChanged(str(error), failed=True))
            return
        state = (
            "enabled: its address takes mail again"
            if enabled
            else ("disabled: its address now refuses mail (550); its rules and incidents are kept")
        )
        self.post_message(SourceChanged(f"{name} {state}."))

    @work(thread=True, group="sources-change", exit_on_error=False)
    def ask_deletion(self, name: str) -> None:
        try:
            impact = deletion_impact(self.app.workspace.database, name)
        except SourceError as error:
            self.post_message(SourceChanged(str(error), failed=True))
            return
        question = (
            f"Delete the source {name}? Its {plural(impact.incidents, 'incident')} and the record "
            f"of what its {plural(impact.mails, 'mail')} did are deleted with it (the mails stay "
            "stored), and its "
            "address will refuse mail. To stop it and keep everything, disable it (t) instead."
        )
        self.app.call_from_thread(
            self.app.push_screen,
            ConfirmModal(question, yes_label="Delete"),
            lambda yes: self.delete(name) if yes else None,
        )

    @work(thread=True, group="sources-change", exit_on_error=False)
    def delete(self, name: str) -> None:
        workspace = self.app.workspace
        try:
            delete_source(workspace.database, workspace.user, name)
        except MailsirenError as error:
            self.post_message(SourceChanged(str(error), failed=True))
            return
        self.post_message(SourceChanged(f"Deleted the source {name}."))

    def on_source_changed(self, message: SourceChanged) -> None:
        self.notify(
            message.text,
            title="Not changed" if message.failed else "",
            severity="error" if message.failed else "information",
            markup=False,
        )
        self.load()
