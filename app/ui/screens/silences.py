"""The silences: active and to come, what each holds; add one for every source, or end one."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Header, Static

from app.core.incidents.silences import SilenceView, add_silence, end_silence, list_silences
from app.errors import MailsirenError
from app.ui import display
from app.ui.display import printable, when, zone_label
from app.ui.modals.confirm import ConfirmModal
from app.ui.modals.silence_form import SilenceFormModal, SilenceRequest
from app.ui.permissions import refused
from app.ui.screens.live import LiveScreen
from app.ui.screens.worker_failures import WorkerFailures
from app.ui.widgets.keyed_table import KeyedTable
from app.ui.widgets.keys_footer import KeysFooter
from app.words import plural


@dataclass
class SilencesLoaded(Message):
    silences: list[SilenceView]


@dataclass
class SilenceChanged(Message):
    text: str
    failed: bool = False


def silence_state(silence: SilenceView) -> Text:
    now = display.now()
    if silence.is_active(now):
        return Text("⊘ active", style="bold yellow")
    if silence.ends_at <= now:
        return Text("ended", style="dim")
    return Text("to come", style="cyan")


def listed_order(silence: SilenceView, now) -> tuple[bool, float]:
    """Active and to come first, soonest end first; then the ended, latest end first."""
    ended = silence.ends_at <= now
    seconds = silence.ends_at.timestamp()
    return ended, -seconds if ended else seconds


def held_cell(silence: SilenceView) -> Text:
    """How many open incidents it holds; an ended silence holds nothing (what it held was
    paged at its end), so it shows a dash rather than a 0 that reads like "held none"."""
    if silence.ends_at <= display.now():
        return Text("—", style="dim", justify="right")
    return Text(f"{silence.held:,}", justify="right")


class SilencesScreen(WorkerFailures, LiveScreen):
    DEFAULT_CSS = """
    SilencesScreen #silences-header { height: auto; padding: 0 1; background: $boost; }
    SilencesScreen KeyedTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="silences.back"),
        Binding("n", "silence_all", "Silence all", id="silences.add"),
        Binding("e,x", "end_silence", "End", id="silences.end"),
        Binding("a", "toggle_ended", "Ended too", id="silences.ended"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading…", id="silences-header")
        yield KeyedTable(id="silences")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = "mailsiren · Silences"
        self.silences: list[SilenceView] = []
        self.include_ended = False
        table = self.query_one(KeyedTable)
        for key, label in (
            ("id", "#"), ("state", "State"), ("held", "Holds"), ("starts", "Starts"),
            ("ends", "Ends"), ("scope", "Covers"), ("reason", "Reason"), ("by", "By"),
        ):  # fmt: skip
            table.add_column(label, key=key)
        table.focus()

    @work(thread=True, exclusive=True, group="silences-read", exit_on_error=False)
    def load(self) -> None:
        silences = list_silences(
            self.app.workspace.database, include_ended=self.include_ended, clock=display.now
        )
        self.post_message(SilencesLoaded(silences))

    def on_silences_loaded(self, message: SilencesLoaded) -> None:
        now = display.now()
        self.silences = sorted(message.silences, key=lambda silence: listed_order(silence, now))
        active = sum(silence.is_active(now) for silence in self.silences)
        ended = sum(silence.ends_at <= now for silence in self.silences)
        to_come = len(self.silences) - active - ended
        said = (
            f"{plural(active, 'silence')} active, {to_come} to come"
            if active or to_come
            else "No silence is active or to come: z on a source (Sources, 2) or n here adds one"
        )
        said += f", {ended:,} ended (a hides them)" if self.include_ended else " · a: ended too"
        self.query_one("#silences-header", Static).update(
            f"{said} · mails under a silence are processed and shown, and page nobody until "
            f"it ends · {zone_label()}"
        )
        self.query_one(KeyedTable).show_items(self.silences, self.row)

    def row(self, silence: SilenceView) -> tuple:
        return str(silence.id), (
            Text(f"#{silence.id}"), silence_state(silence),
            held_cell(silence), Text(when(silence.starts_at)[5:16]),
            Text(when(silence.ends_at)[5:16]), Text(printable(silence.scope())),
            Text(printable(silence.reason)), Text(printable(silence.created_by)),
        )  # fmt: skip

    def action_toggle_ended(self) -> None:
        """Ended silences too, newest end last, or only those active and to come."""
        self.include_ended = not self.include_ended
        self.load()

    def selected(self) -> SilenceView | None:
        key = self.query_one(KeyedTable).selected_key
        return next((s for s in self.silences if str(s.id) == key), None)

    def action_silence_all(self) -> None:
        if not refused(self, "triage", "add silences"):
            self.app.push_screen(SilenceFormModal(None), self.add)

    def action_end_silence(self) -> None:
        silence = self.selected()
        if silence is None or refused(self, "triage", "end silences"):
            return
        if silence.ends_at <= display.now():
            self.notify(f"Silence #{silence.id} has already ended.", markup=False)
            return
        question = (
            f"End silence #{silence.id} ({silence.reason}) now? "
            f"{plural(silence.held, 'incident')} it holds and still open will page now."
        )
        self.app.push_screen(
            ConfirmModal(question, yes_label="End it"),
            lambda yes: self.end(silence.id) if yes else None,
        )

    @work(thread=True, group="silences-change", exit_on_error=False)
    def add(self, request: SilenceRequest | None) -> None:
        if request is not None:
            self.post_message(silence_added(self.app.workspace, request))

    @work(thread=True, group="silences-change", exit_on_error=False)
    def end(self, silence_id: int) -> None:
        workspace = self.app.workspace
        try:
            silence = end_silence(workspace.database, workspace.user, silence_id, clock=display.now)
        except MailsirenError as error:
            self.post_message(SilenceChanged(str(error), failed=True))
            return
        self.post_message(SilenceChanged(f"Silence #{silence.id} ended; what it held is paged."))

    def on_silence_changed(self, message: SilenceChanged) -> None:
        tell(self, message)
        self.load()


def silence_added(workspace, request: SilenceRequest) -> SilenceChanged:
    """Add the silence the form asked for (in the caller's worker); what to tell the operator."""
    try:
        silence = add_silence(
            workspace.database, workspace.user, source=request.source,
            starts_at=request.starts_at, ends_at=request.ends_at, reason=request.reason,
            match=request.match, clock=display.now,
        )  # fmt: skip
    except MailsirenError as error:
        return SilenceChanged(str(error), failed=True)
    return SilenceChanged(
        f"Silence #{silence.id}: {silence.scope()} until {when(silence.ends_at)[:16]} "
        f"({silence.reason}). Nobody is paged for it until then."
    )


def tell(screen, message: SilenceChanged) -> None:
    screen.notify(
        message.text,
        title="Not changed" if message.failed else "",
        severity="error" if message.failed else "information",
        markup=False,
    )
