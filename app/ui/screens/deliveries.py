"""The delivery log: every notification, its attempts, and what to do about a failure."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Header, Static

from app.core.notifications.deliveries import (
    AttemptView,
    DeliveryView,
    delivery_attempts,
    delivery_counts,
    list_deliveries,
)
from app.core.users import PermissionDenied
from app.ui.display import shown, when, zone_label
from app.ui.screens.live import LiveScreen
from app.ui.screens.worker_failures import WorkerFailures
from app.ui.widgets.deliveries_table import DeliveriesTable, status_text
from app.ui.widgets.keys_footer import KeysFooter
from app.words import plural

FILTERS = (None, "failed", "retrying", "queued", "sent")


@dataclass
class DeliveriesLoaded(Message):
    views: list[DeliveryView]
    counts: dict[str, int]  # every notification by status, whatever the filter
    refusal: str = ""


@dataclass
class AttemptsLoaded(Message):
    delivery_id: int
    attempts: list[AttemptView]


def describe(view: DeliveryView, attempts: list[AttemptView]) -> Text:
    text = Text()
    text.append(f"#{view.id} ", style="bold")
    text.append_text(status_text(view))
    text.append(f"   {view.event} of incident #{view.incident_id} to {view.address}\n")
    text.append(
        f"Why: {view.why or '-'}; sent with {view.owner or '(no owner)'}'s SMTP configuration\n"
    )
    if view.status == "retrying":
        text.append(f"Next try: {shown(view.next_attempt_at):%H:%M:%S}\n")
    if view.held_until and view.status in ("queued", "retrying"):
        text.append(
            f"Held by storm control until {shown(view.held_until):%H:%M:%S}\n", style="yellow"
        )
    if view.hint:
        text.append("What to do: ", style="bold")
        text.append(view.hint + "\n", style="yellow" if view.status != "sent" else "")
    for attempt in attempts:
        style = {"sent": "green", "temporary": "yellow", "permanent": "red"}.get(
            attempt.outcome, ""
        )
        text.append(f"  {when(attempt.at)}  ")
        text.append(f"{attempt.outcome:<10}", style=style)
        text.append(f" {attempt.stage:<12} {attempt.reply}\n")
    if not attempts:
        text.append("  not tried yet\n", style="dim")
    return text


def header_text(status: str | None, message: DeliveriesLoaded) -> str:
    """What is shown and how many there are in all; an empty filter says so, and how to
    clear it, instead of looking like an empty log."""
    if message.refusal:
        return message.refusal
    total = sum(message.counts.values())
    counts = ", ".join(f"{count:,} {name}" for name, count in message.counts.items() if count)
    if not total:
        return (
            "No notifications yet. They appear when an incident event reaches an integration. "
            f"· {zone_label()}"
        )
    if not message.views:
        return (
            f"No notification is {status} — esc clears the filter "
            f"({plural(total, 'notification')} in all: {counts}) · {zone_label()}"
        )
    shown_now = status or "every status"
    return (
        f"Notifications, newest first ({shown_now}; f changes, esc clears): "
        f"{plural(total, 'notification')}: {counts} · {zone_label()}"
    )


class DeliveriesScreen(WorkerFailures, LiveScreen):
    DEFAULT_CSS = """
    DeliveriesScreen #deliveries-header { height: auto; padding: 0 1; background: $boost; }
    DeliveriesScreen DeliveriesTable { height: 1fr; border: round $primary; }
    DeliveriesScreen #delivery-detail {
        height: 12; border: round $primary-muted; padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("f", "cycle_filter", "Status filter", id="deliveries.filter"),
        Binding("escape", "back_or_clear", "Back / clear filter", id="deliveries.back"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="deliveries-header", markup=False)
        yield DeliveriesTable(id="deliveries")
        with VerticalScroll(id="delivery-detail"):
            yield Static("", id="delivery-text", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = "mailsiren · Delivery log"
        self.status: str | None = None
        self.views: list[DeliveryView] = []
        self.query_one(DeliveriesTable).focus()

    def changed(self) -> None:
        self.load(self.status)

    @work(thread=True, exclusive=True, group="deliveries-read", exit_on_error=False)
    def load(self, status: str | None) -> None:
        workspace = self.app.workspace
        try:
            views = list_deliveries(workspace.database, workspace.user, status=status)
            counts = delivery_counts(workspace.database, workspace.user)
        except PermissionDenied as error:
            self.post_message(DeliveriesLoaded([], {}, str(error)))
            return
        self.post_message(DeliveriesLoaded(views, counts))

    def on_deliveries_loaded(self, message: DeliveriesLoaded) -> None:
        self.views = message.views
        self.query_one("#deliveries-header", Static).update(header_text(self.status, message))
        self.query_one(DeliveriesTable).show(message.views)
        self.show_selected()

    def action_cycle_filter(self) -> None:
        self.status = FILTERS[(FILTERS.index(self.status) + 1) % len(FILTERS)]
        self.load(self.status)

    def action_back_or_clear(self) -> None:
        """esc clears the status filter first, then goes back."""
        if self.status is not None:
            self.status = None
            self.load(self.status)
        else:
            self.app.pop_screen()

    @on(DataTable.RowHighlighted)
    def show_selected(self) -> None:
        key = self.query_one(DeliveriesTable).selected_key
        if key is None:
            self.query_one("#delivery-text", Static).update("")
            return
        self.load_attempts(int(key))

    @work(thread=True, exclusive=True, group="deliveries-attempts", exit_on_error=False)
    def load_attempts(self, delivery_id: int) -> None:
        attempts = delivery_attempts(self.app.workspace.database, delivery_id)
        self.post_message(AttemptsLoaded(delivery_id, attempts))

    def on_attempts_loaded(self, message: AttemptsLoaded) -> None:
        view = next((v for v in self.views if v.id == message.delivery_id), None)
        if view is not None:
            self.query_one("#delivery-text", Static).update(describe(view, message.attempts))
